import { BalancerError } from '../errors';

/**
 * A strategy name that is neither a canonical name nor an accepted alias (HTTP 400: it comes from
 * a config file, an admin call or a per-request override). The message lists the valid names.
 *
 * @example
 * try { StrategyFactory.create('fastest'); }
 * catch (e) { if (e instanceof UnknownStrategyError) console.error(e.validNames); }
 */
export class UnknownStrategyError extends BalancerError {
  static override brand = 'ERR_UNKNOWN_STRATEGY';
  /** The name as it was given. */
  readonly strategy: string;
  /** Canonical names, then aliases. */
  readonly validNames: readonly string[];

  constructor(strategy: string, canonical: readonly string[], aliases: readonly string[]) {
    super(UnknownStrategyError.brand, 400, `unknown strategy '${strategy}'; valid: ${canonical.join(', ')} (aliases: ${aliases.join(', ')})`);
    this.strategy = strategy;
    this.validNames = Object.freeze([...canonical, ...aliases]);
  }
}

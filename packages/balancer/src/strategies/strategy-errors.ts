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

  /** `reason`: why a name the seeds use is refused, and what to use instead (it leads the message). */
  constructor(strategy: string, canonical: readonly string[], aliases: readonly string[], reason?: string) {
    const valid = `valid: ${canonical.join(', ')} (aliases: ${aliases.join(', ')})`;
    super(UnknownStrategyError.brand, 400, reason ? `${reason}; ${valid}` : `unknown strategy '${strategy}'; ${valid}`);
    this.strategy = strategy;
    this.validNames = Object.freeze([...canonical, ...aliases]);
  }
}

/**
 * Typed errors of the emulator. Each class carries a stable `code`; all are `SimError`s, and so
 * `OllamaRingError`s, whose `Symbol.for` brand keeps `instanceof` working when two copies of this
 * package are loaded (a bench bundle and a test copy, say).
 */
import { OllamaRingError } from '@ollama-ring/protocol';

/** Base class of every emulator error. */
export class SimError extends OllamaRingError {
  static override brand = 'ERR_SIM';
}

/** The configuration (YAML or object) is invalid. `problems` lists every issue found, one per entry. */
export class SimConfigError extends SimError {
  static override brand = 'ERR_SIM_CONFIG';
  readonly problems: readonly string[];
  constructor(problems: readonly string[], source?: string) {
    const where = source ? ` in ${source}` : '';
    super(SimConfigError.brand, `invalid sim config${where}:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

/**
 * An HTTP-visible failure raised inside request handling: it carries the status and the message the
 * client must see (the route decides the body shape, native or OpenAI).
 */
export class SimHttpError extends SimError {
  static override brand = 'ERR_SIM_HTTP';
  readonly status: number;
  constructor(status: number, message: string) {
    super(SimHttpError.brand, message);
    this.status = status;
  }
}

/** A cold-load request found the pending queue full (Ollama's `ErrMaxQueue`, HTTP 503). */
export class SimBusyError extends SimHttpError {
  static override brand = 'ERR_SIM_BUSY';
  constructor() {
    // Two spaces after the full stop: Ollama's exact text.
    super(503, 'server busy, please try again.  maximum pending requests exceeded');
  }
}

/** The client went away while its request waited for a runner or a slot (Ollama answers 499). */
export class SimCancelledError extends SimHttpError {
  static override brand = 'ERR_SIM_CANCELLED';
  constructor() {
    super(499, 'request canceled');
  }
}

/** A simulated model load failed (a `failLoad` fault); Ollama reports these as 500. */
export class SimLoadError extends SimHttpError {
  static override brand = 'ERR_SIM_LOAD';
  constructor(message: string) {
    super(500, message);
  }
}

/** The node or pool is shutting down; pending work is abandoned. */
export class SimClosedError extends SimError {
  static override brand = 'ERR_SIM_CLOSED';
  constructor(message = 'sim node closed') {
    super(SimClosedError.brand, message);
  }
}

/** `SimPool.node(id)` named a node the pool does not have. */
export class SimUnknownNodeError extends SimError {
  static override brand = 'ERR_SIM_UNKNOWN_NODE';
  constructor(readonly nodeId: string) {
    super(SimUnknownNodeError.brand, `no node '${nodeId}' in this pool`);
  }
}

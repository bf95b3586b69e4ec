/** The states of a node's circuit breaker. */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long the breaker stays open before it lets trial requests through. */
  recoveryMs: number;
  /** How many trial requests half-open admits at once; the rest wait or go elsewhere. */
  halfOpenRequests: number;
}

/**
 * Closed → open after `failureThreshold` consecutive failures; open → half-open after `recoveryMs`;
 * half-open admits at most `halfOpenRequests` trials at a time: a success closes it, a failure
 * re-opens it. Only the scheduler (single writer) calls it; time is passed in, so tests control it.
 *
 * @example
 * const b = new CircuitBreaker({ failureThreshold: 5, recoveryMs: 30_000, halfOpenRequests: 1 });
 * if (b.canAttempt(now)) { b.onAttempt(now); … b.onSuccess(); }
 */
export class CircuitBreaker {
  private opts: CircuitBreakerOptions;
  private _state: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private trials = 0;
  /** How many times it has opened (for metrics). */
  opens = 0;

  constructor(opts: CircuitBreakerOptions) {
    this.opts = { ...opts };
  }

  get state(): BreakerState {
    return this._state;
  }

  /** New thresholds from a config reload; the current state is kept. */
  reconfigure(opts: CircuitBreakerOptions): void {
    this.opts = { ...opts };
  }

  /** Whether a request may be sent now. Moves open → half-open once the recovery time has passed. */
  canAttempt(now: number): boolean {
    if (this._state === 'open' && now - this.openedAt >= this.opts.recoveryMs) {
      this._state = 'half-open';
      this.trials = 0;
    }
    if (this._state === 'closed') return true;
    if (this._state === 'half-open') return this.trials < this.opts.halfOpenRequests;
    return false;
  }

  /** A request is being sent (counts half-open trials). */
  onAttempt(now: number): void {
    if (this.canAttempt(now) && this._state === 'half-open') this.trials++;
  }

  onSuccess(): void {
    this.failures = 0;
    if (this._state === 'half-open') {
      this.trials = Math.max(0, this.trials - 1);
      this._state = 'closed';
    }
  }

  /** A failure that counts against the node (not a client error such as an unknown model). */
  onFailure(now: number): void {
    this.failures++;
    if (this._state === 'half-open' || (this._state === 'closed' && this.failures >= this.opts.failureThreshold)) {
      this.open(now);
    }
  }

  /** Opens at once: a refused connection is proof enough that the node is down. */
  trip(now: number): void {
    this.open(now);
  }

  /** The node answers health checks again: open → half-open now, without waiting out `recoveryMs`. */
  allowTrials(): void {
    if (this._state === 'open') {
      this._state = 'half-open';
      this.trials = 0;
    }
  }

  /** A finished trial that was neither success nor failure (aborted by the client) frees its place. */
  onTrialAbandoned(): void {
    if (this._state === 'half-open') this.trials = Math.max(0, this.trials - 1);
  }

  private open(now: number): void {
    if (this._state !== 'open') this.opens++;
    this._state = 'open';
    this.openedAt = now;
    this.trials = 0;
  }
}

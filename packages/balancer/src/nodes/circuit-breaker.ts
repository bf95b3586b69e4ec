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
 * A trial counts until its own end is reported (`onSuccess(true)`, `onFailure(now, true)` or
 * `onTrialAbandoned()`), whatever the breaker did meanwhile: a trial still running when the breaker
 * re-opens (another request failed) and goes half-open again keeps its place, so a new episode never
 * has more than `halfOpenRequests` trials in flight, and a stale trial's end never frees a place it
 * did not take in this episode.
 *
 * @example
 * const b = new CircuitBreaker({ failureThreshold: 5, recoveryMs: 30_000, halfOpenRequests: 1 });
 * if (b.canAttempt(now)) { const trial = b.onAttempt(now); … b.onSuccess(trial); }
 */
export class CircuitBreaker {
  private opts: CircuitBreakerOptions;
  private _state: BreakerState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private trials = 0;
  /** How many times it has opened (for metrics). */
  opens = 0;
  /**
   * With replicas (`state.backend: redis`): half-open admits trials only while this replica holds
   * the node's trial claim in Redis ({@link trialsClaimed}), so the pool's replicas together send no
   * more than `halfOpenRequests` trials. False with the memory backend: every trial is this process's.
   */
  sharedTrials = false;
  /** This replica holds the node's trial claim (with {@link sharedTrials}); lost when the breaker opens or closes. */
  trialsClaimed = false;

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
    if (this._state === 'open' && now - this.openedAt >= this.opts.recoveryMs) this._state = 'half-open';
    if (this._state === 'closed') return true;
    if (this._state === 'half-open') return this.trials < this.opts.halfOpenRequests && (!this.sharedTrials || this.trialsClaimed);
    return false;
  }

  /** A request is being sent; true when it is a half-open trial (counted until its end is reported). */
  onAttempt(now: number): boolean {
    if (!this.canAttempt(now) || this._state !== 'half-open') return false;
    this.trials++;
    return true;
  }

  /** A success; `trial` when it was a trial (`onAttempt` returned true), which frees its place. */
  onSuccess(trial = false): void {
    if (trial) this.endTrial();
    this.failures = 0;
    if (this._state === 'half-open') this.close();
  }

  /** Closed now (a trial succeeded, here or on another replica); trials still running keep their places. */
  close(): void {
    this._state = 'closed';
    this.failures = 0;
    this.trialsClaimed = false;
  }

  /** A failure that counts against the node (not a client error such as an unknown model). */
  onFailure(now: number, trial = false): void {
    if (trial) this.endTrial();
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
    if (this._state === 'open') this._state = 'half-open';
  }

  /** A finished trial that was neither success nor failure (aborted by the client, a 4xx) frees its place. */
  onTrialAbandoned(): void {
    this.endTrial();
  }

  /** Trials admitted and not yet ended. */
  get trialsInFlight(): number {
    return this.trials;
  }

  private endTrial(): void {
    this.trials = Math.max(0, this.trials - 1);
  }

  private open(now: number): void {
    if (this._state !== 'open') this.opens++;
    this._state = 'open';
    this.openedAt = now;
    this.trialsClaimed = false;
  }
}

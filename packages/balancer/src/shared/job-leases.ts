import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { BalancerError } from '../errors';
import { DROP_JOB_LEASE, RENEW_JOB_LEASE, TAKE_JOB_LEASE } from './job-lua';
import type { ScriptRunner } from './scripts';

/** A job lease was lost (expired unrenewed, taken by another replica, or Redis could not confirm it): its holder must stop writing the job. */
export class JobLeaseLostError extends BalancerError {
  static override brand = 'ERR_JOB_LEASE_LOST';
  constructor(name: string, why: string) {
    super(JobLeaseLostError.brand, 503, `the lease on ${name} is lost (${why}): another replica may run it now`);
  }
}

/** One job's ownership, held by this replica. */
export interface JobLease {
  /** What it is on: `batch:<id>`, `workflow:<id>`. */
  readonly name: string;
  /** This holding's token (a new one at each acquisition: a holder that lost the lease cannot renew or drop the next holder's). */
  readonly token: string;
  /** Aborts (with a `JobLeaseLostError`, or `'released'`) once the lease is no longer held here. */
  readonly signal: AbortSignal;
  /**
   * Still held by this process's clock: confirmed less than the TTL, less a margin, ago. Redis
   * expires a lease no earlier than the TTL after the confirmation was sent, so a holder that
   * checks this before a write never writes after another replica could have taken the lease.
   */
  held(): boolean;
  /** Confirms with Redis that the lease is still this token's, renewing it; false (and lost) otherwise, or when Redis does not answer. */
  confirm(): Promise<boolean>;
  /** Gives the lease back (if it is still this token's): another replica may take the job at once. */
  release(): Promise<void>;
}

/** The job leases the server's batch jobs and workflow runs are owned through (`state.backend: redis`). */
export interface JobLeasePort {
  /** `state.redis.leaseTtlMs`: a holder that stops renewing loses its leases within it. */
  readonly ttlMs: number;
  readonly replicaId: string;
  /** Takes the lease on `name` when no one holds it; undefined when another does, or Redis is out. */
  acquire(name: string): Promise<JobLease | undefined>;
  /** Tells every replica (the holder among them) something about `name`, e.g. `cancel`; lost when Redis is out. */
  notify(name: string, what: string): Promise<void>;
  /** Listens to the notices; returns the way to stop. */
  onNotice(listener: (name: string, what: string) => void): () => void;
}

/**
 * Job leases over the Redis backend's connections: a key per job (`<prefix>lease:<name>`) holding
 * the holder's token with a TTL (`state.redis.leaseTtlMs`), taken with `SET NX`, renewed every
 * third of the TTL while held, and given back when the job ends here; notices go out on the
 * `<prefix>jobs` channel. A replica that dies stops renewing, so its jobs are free within the TTL.
 *
 * A holder stops writing before anyone else can start: `held()` turns false a margin before the
 * lease can have expired in Redis, and `confirm()` (the fence a writer calls before each write)
 * also asks Redis, so a lease Redis has lost (a restart without persistence) is not written under.
 */
export class JobLeases implements JobLeasePort {
  private readonly channel: string;
  private readonly leases = new Map<string, Held>();
  private readonly listeners = new Set<(name: string, what: string) => void>();
  private tick: NodeJS.Timeout | undefined;
  private seq = 0;

  constructor(
    private readonly client: Redis,
    sub: Redis,
    private readonly scripts: ScriptRunner,
    private readonly prefix: string,
    readonly replicaId: string,
    readonly ttlMs: number,
  ) {
    this.channel = `${prefix}jobs`;
    void sub.subscribe(this.channel).catch(() => undefined);
    sub.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const at = message.indexOf(' ');
      if (at <= 0) return;
      for (const l of this.listeners) l(message.slice(at + 1), message.slice(0, at));
    });
  }

  async acquire(name: string): Promise<JobLease | undefined> {
    const token = `${this.replicaId}#${++this.seq}:${randomBytes(4).toString('hex')}`;
    const sent = Date.now();
    let r: unknown;
    try {
      r = await this.scripts.run(TAKE_JOB_LEASE, [this.key(name)], [token, this.ttlMs]);
    } catch {
      return undefined;
    }
    if (r !== 1) return undefined;
    const lease = new Held(this, name, token, sent);
    this.leases.set(name, lease);
    this.tick ??= setInterval(() => this.renewAll(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.tick.unref();
    return lease;
  }

  async notify(name: string, what: string): Promise<void> {
    await this.client.publish(this.channel, `${what} ${name}`);
  }

  onNotice(listener: (name: string, what: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The backend is closing: waits (at most `ms`) for the jobs stopping with it to give their leases
   * back, so that other replicas can take them at once, then stops renewing (a lease still held
   * expires at its TTL).
   */
  async close(ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (this.leases.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    this.stop();
  }

  /** Stops renewing: the leases still held expire at their TTL. */
  stop(): void {
    clearInterval(this.tick);
    this.tick = undefined;
  }

  /** @internal */
  run(script: string, name: string, args: (string | number)[]): Promise<unknown> {
    return this.scripts.run(script, [this.key(name)], args);
  }

  /** @internal */
  forget(lease: Held): void {
    if (this.leases.get(lease.name) === lease) this.leases.delete(lease.name);
    if (this.leases.size === 0) this.stop();
  }

  /** A renewal round: a lease Redis says is another's is lost now; one Redis cannot answer for is kept until `held()` runs out. */
  private renewAll(): void {
    for (const l of this.leases.values()) void l.renew(false);
  }

  private key(name: string): string {
    return `${this.prefix}lease:${name}`;
  }
}

class Held implements JobLease {
  private readonly ctl = new AbortController();
  private deadline: number;

  constructor(
    private readonly owner: JobLeases,
    readonly name: string,
    readonly token: string,
    sentAt: number,
  ) {
    this.deadline = sentAt + owner.ttlMs - margin(owner.ttlMs);
  }

  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  held(): boolean {
    if (this.ctl.signal.aborted) return false;
    if (Date.now() < this.deadline) return true;
    this.lose('not renewed within its TTL');
    return false;
  }

  confirm(): Promise<boolean> {
    return this.renew(true);
  }

  /** Renews; `strict`: a Redis that does not answer loses the lease too (a writer cannot be fenced without it). */
  async renew(strict: boolean): Promise<boolean> {
    if (!this.held()) return false;
    const sent = Date.now();
    let r: unknown;
    try {
      r = await this.owner.run(RENEW_JOB_LEASE, this.name, [this.token, this.owner.ttlMs]);
    } catch (e) {
      if (strict) this.lose(`redis did not confirm it: ${e instanceof Error ? e.message : String(e)}`);
      return this.held() && !strict;
    }
    if (r !== 1) {
      this.lose('expired or taken by another replica');
      return false;
    }
    this.deadline = Math.max(this.deadline, sent + this.owner.ttlMs - margin(this.owner.ttlMs));
    return this.held();
  }

  async release(): Promise<void> {
    if (this.ctl.signal.aborted) return;
    this.ctl.abort('released');
    this.owner.forget(this);
    await this.owner.run(DROP_JOB_LEASE, this.name, [this.token]).catch(() => undefined);
  }

  private lose(why: string): void {
    if (this.ctl.signal.aborted) return;
    this.ctl.abort(new JobLeaseLostError(this.name, why));
    this.owner.forget(this);
  }
}

/** How long before the TTL a holder stops trusting its lease: room for a write already decided, and for clocks that run at slightly different rates. */
function margin(ttlMs: number): number {
  return Math.max(100, Math.floor(ttlMs / 5));
}

import { type JobLease, JobLeaseLostError, type JobLeasePort } from '@ollama-ring/balancer';
import type { Logger } from 'pino';

export interface JobClaimsOptions {
  leases: JobLeasePort;
  /** What the jobs are: their leases are named `<kind>:<id>`. */
  kind: 'batch' | 'workflow';
  /** The ids of the store's unfinished jobs, the store read again first. */
  unfinished: () => Promise<string[]>;
  /** Whether this process runs the job already. */
  running: (id: string) => boolean;
  /** Runs a job whose lease this process has just taken (giving the lease back if there is nothing to run). */
  take: (id: string, lease: JobLease) => Promise<void>;
  /** A notice from another replica about a job (`cancel`). */
  onNotice: (id: string, what: string) => void;
  /** Called each round after the claims (e.g. to apply a cancellation whose notice was lost). */
  eachRound?: () => Promise<void>;
  logger: Logger;
}

/**
 * Who runs which job when replicas share one batch data directory (`state.backend: redis`): each
 * job is run by the replica holding its lease (`JobLeasePort`), and every sixth of the lease TTL
 * each replica tries to take the lease of every unfinished job no one holds: a job whose replica
 * died (its lease expired unrenewed) or stopped (it gave the lease back) is taken over by one of
 * the others, which resumes it from the store. A job just made is leased by the replica that made
 * it before its record is written, so no one else takes it first.
 */
export class JobClaims {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private stopped = false;
  private readonly unlisten: () => void;

  constructor(private readonly o: JobClaimsOptions) {
    const prefix = `${o.kind}:`;
    this.unlisten = o.leases.onNotice((name, what) => {
      if (name.startsWith(prefix)) o.onNotice(name.slice(prefix.length), what);
    });
  }

  /** A first round now, then one every sixth of the TTL (a dead replica's job is taken at most that long after its lease expires). */
  start(): void {
    if (this.timer || this.stopped) return;
    void this.round();
    this.timer = setInterval(() => void this.round(), Math.max(200, Math.floor(this.o.leases.ttlMs / 6)));
    this.timer.unref();
  }

  /** Takes a job's lease; undefined when another replica holds it or Redis is out. */
  acquire(id: string): Promise<JobLease | undefined> {
    return this.o.leases.acquire(`${this.o.kind}:${id}`);
  }

  /** Tells the other replicas (the job's holder among them) something about a job. */
  notify(id: string, what: string): Promise<void> {
    return this.o.leases.notify(`${this.o.kind}:${id}`, what);
  }

  /** No job is taken from now on (the gateway is closing). */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.unlisten();
  }

  private async round(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      for (const id of await this.o.unfinished()) {
        if (this.stopped) break;
        if (this.o.running(id)) continue;
        const lease = await this.acquire(id);
        if (!lease) continue;
        await this.o.take(id, lease).catch(async (e: unknown) => {
          await lease.release();
          this.o.logger.error({ err: e, [this.o.kind]: id }, `a ${this.o.kind} job could not be taken over`);
        });
      }
      await this.o.eachRound?.();
    } catch (e) {
      this.o.logger.warn({ err: e }, `${this.o.kind} claim round failed`);
    } finally {
      this.busy = false;
    }
  }
}

/** Throws when `lease` is given and no longer this process's (the fence before a write); nothing without a lease (memory backend). */
export async function fence(lease: JobLease | undefined): Promise<void> {
  if (!lease || (await lease.confirm())) return;
  const why: unknown = lease.signal.reason;
  throw why instanceof Error ? why : new JobLeaseLostError(lease.name, String(why));
}

/** Whether a job run under `lease` must stop: the lease is lost (never, without one). */
export function leaseLost(lease: JobLease | undefined): boolean {
  return lease !== undefined && !lease.held();
}

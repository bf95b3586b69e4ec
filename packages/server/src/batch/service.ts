import { createHash } from 'node:crypto';
import type { JobLeasePort } from '@ollama-ring/balancer';
import type { Logger } from 'pino';
import { DirLock } from './dir-lock';
import { BatchJobs } from './jobs';
import type { BatchPipeline } from './runner';
import { BatchStore } from './store';

export interface BatchServiceOptions {
  /** `batch.dataDir`. */
  dir: string;
  /** `batch.retentionMs`, read at each sweep. */
  retentionMs: () => number;
  pipeline: () => BatchPipeline;
  concurrency: () => number;
  clientKeyOf: (owner: string) => string | undefined;
  /**
   * Replicas share the directory (`state.backend: redis`): no directory lock; each job is run by
   * the replica holding its lease, and any replica takes over the jobs of one that died.
   */
  leases?: JobLeasePort;
  logger: Logger;
}

/** The longest wait between two retention sweeps. */
const SWEEP_EVERY_MS = 3_600_000;

/**
 * The store and the jobs on it, for the gateway: opening it resumes the unfinished jobs, and a
 * sweep every hour (and at start) deletes what is past `batch.retentionMs`.
 *
 * @example const batches = await BatchService.open({ dir: cfg.batch.dataDir, … });
 */
export class BatchService {
  private readonly timer: NodeJS.Timeout;

  private constructor(
    readonly store: BatchStore,
    readonly jobs: BatchJobs,
    private readonly o: BatchServiceOptions,
    private readonly lock: DirLock | undefined,
  ) {
    // Hourly, or more often for a shorter retention, but not more than once a minute.
    this.timer = setInterval(() => void this.sweep(), Math.max(60_000, Math.min(SWEEP_EVERY_MS, o.retentionMs())));
    this.timer.unref();
  }

  /**
   * Opens the store and resumes its jobs: alone, taking its directory's lock (`BatchDirLockedError`
   * when another gateway holds it); with replicas (`leases`), shared, checking only that no gateway
   * holds it alone.
   */
  static async open(o: BatchServiceOptions): Promise<BatchService> {
    const lock = o.leases ? await DirLock.assertFree(o.dir).then(() => undefined) : await DirLock.acquire(o.dir);
    let store: BatchStore;
    try {
      store = await BatchStore.open(o.dir, o.leases !== undefined);
    } catch (e) {
      await lock?.release();
      throw e;
    }
    const jobs = new BatchJobs({ store, pipeline: o.pipeline, concurrency: o.concurrency, clientKeyOf: o.clientKeyOf, leases: o.leases, logger: o.logger });
    const s = new BatchService(store, jobs, o, lock);
    await s.sweep();
    jobs.resumeAll();
    return s;
  }

  async sweep(): Promise<void> {
    try {
      // With replicas, what the others made since the last read counts too (an input file in use, a log being written).
      await this.store.refresh();
      const gone = await this.store.sweep(Date.now(), this.o.retentionMs());
      if (gone.jobs + gone.files > 0) this.o.logger.info(gone, 'batch retention sweep');
    } catch (e) {
      this.o.logger.warn({ err: e }, 'batch retention sweep failed');
    }
  }

  /** No line starts from now on (the gateway is closing). */
  stopping(): void {
    this.jobs.stopping();
  }

  /** Waits for the running lines to end and their results to be written. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.jobs.close();
    await this.lock?.release();
  }
}

/**
 * Who owns a file or a job: the API key that made it (its SHA-256, so that no key is written to
 * disk), or, when no keys are configured, everyone.
 *
 * @example ownerOf('sk-1', true); // 'key:5f1c…'
 */
export function ownerOf(key: string, keysConfigured: boolean): string {
  return keysConfigured ? `key:${createHash('sha256').update(key).digest('hex')}` : 'anyone';
}

import { stat } from 'node:fs/promises';
import { type JobLease, JobLeaseLostError, type JobLeasePort } from '@ollama-ring/balancer';
import type { Logger } from 'pino';
import { inputLines, type Validation, validateInput } from './input';
import { fence, JobClaims, leaseLost } from './job-claims';
import { errorLine, ResultLog, scan } from './result-log';
import { BatchRunner, type BatchPipeline, type LineResult } from './runner';
import type { BatchStore } from './store';
import { type BatchLine, type BatchObject, type BatchStatus, isFinished, type JobParams, type JobRecord, newJobRecord } from './types';
import { newId } from './disk';

export interface BatchJobsOptions {
  store: BatchStore;
  pipeline: () => BatchPipeline;
  /** A job's lines in the pipeline at once, read before each line starts. */
  concurrency: () => number;
  /** The client key a job's owner runs as (per-client limits), when it is known. */
  clientKeyOf: (owner: string) => string | undefined;
  /** Replicas share the store (`state.backend: redis`): each job is run by the holder of its lease. */
  leases?: JobLeasePort;
  logger: Logger;
}

/** A running job's progress, in lines. */
export interface JobProgress {
  id: string;
  /** Its endpoint (`/v1/chat/completions`, …), or `embed <model>` for an `/api/embed/batch` job. */
  kind: string;
  queued: number;
  running: number;
  done: number;
  failed: number;
}

/** What a job is doing in this process. */
interface Live {
  job: JobRecord;
  /** Aborts with 'cancel' or 'expire': no line starts, the running ones are aborted. */
  abort: AbortController;
  out?: ResultLog;
  err?: ResultLog;
  /** Lines handed to the runner and not yet recorded. */
  running: number;
  done: Promise<void>;
  /** Its lease, when replicas share the store: every write is fenced by it. */
  lease?: JobLease;
}

const nowSec = (): number => Math.floor(Date.now() / 1000);

/**
 * The batch jobs: each is validated, run line by line through a {@link BatchRunner} (results
 * appended to its output and error logs as they come), and finalized, its logs becoming files.
 * A job's record is saved at each change of status; its progress is the logs themselves. At start
 * every unfinished job resumes where its record and logs left it: a line with a result in either
 * log is not run again; a line that was running when the process died has none, and runs again.
 * `close()` stops starting lines and keeps what ends well; a line cut by the shutdown is not
 * recorded, so that it runs again at the next start.
 *
 * With replicas sharing the store (`leases`), a job runs on the replica holding its lease
 * ({@link JobClaims}), which resumes it by those same rules when it takes it over; each result and
 * record is written only after the lease is confirmed, and a job whose lease is lost stops at once
 * (its running lines are not recorded: the next holder runs them again).
 */
export class BatchJobs {
  private readonly live = new Map<string, Live>();
  private readonly stop = new AbortController();
  private saving: Promise<void> = Promise.resolve();
  private readonly claims: JobClaims | undefined;

  constructor(private readonly o: BatchJobsOptions) {
    if (!o.leases) return;
    o.store.keep = (id) => this.live.has(id);
    this.claims = new JobClaims({
      leases: o.leases,
      kind: 'batch',
      unfinished: async () => {
        await o.store.refresh();
        return [...o.store.jobs.values()].filter((j) => !isFinished(j.batch.status)).map((j) => j.batch.id);
      },
      running: (id) => this.live.has(id),
      take: (id, lease) => this.take(id, lease),
      onNotice: (id, what) => {
        const l = this.live.get(id);
        if (what === 'cancel' && l) void this.cancel(l.job).catch((e: unknown) => o.logger.warn({ err: e, batch: id }, 'batch cancel failed'));
      },
      // A cancellation whose notice was lost (asked while Redis was out) is in the store.
      eachRound: async () => {
        for (const l of [...this.live.values()]) {
          const st = l.job.batch.status;
          if ((st === 'validating' || st === 'in_progress') && (await o.store.cancelAsked(l.job.batch.id))) await this.cancel(l.job);
        }
      },
      logger: o.logger,
    });
  }

  /** Resumes every unfinished job of the store; with replicas, those whose lease it can take, now and whenever one is free. */
  resumeAll(): void {
    if (this.claims) return this.claims.start();
    for (const job of this.o.store.jobs.values()) if (!isFinished(job.batch.status)) this.start(job);
  }

  /** Creates a job over an input file (already checked to exist and belong to `owner`) and starts it. */
  async create(owner: string, params: JobParams): Promise<BatchObject> {
    const id = newId('batch_');
    // Leased before its record exists, so no other replica takes it first (Redis out: it waits in the store for one).
    const lease = await this.claims?.acquire(id);
    const job = newJobRecord({ id, outputId: newId('file-'), errorId: newId('file-') }, owner, params, nowSec());
    try {
      await this.save(job);
    } catch (e) {
      await lease?.release();
      throw e;
    }
    if (!this.claims || lease) this.start(job, lease);
    return { ...job.batch };
  }

  /** Asks a job to stop: `cancelling` at once, `cancelled` once its running lines have ended. */
  async cancel(job: JobRecord): Promise<BatchObject> {
    const b = job.batch;
    if (this.claims && !this.live.has(b.id) && (b.status === 'validating' || b.status === 'in_progress')) {
      // Run by another replica (or by none just now): the request is kept in the store, the holder
      // told; the holder (or whoever takes the job next) makes it cancelling and saves that.
      const lease = await this.claims.acquire(b.id);
      if (lease) {
        await this.take(b.id, lease);
        const here = this.live.get(b.id);
        return here ? this.cancel(here.job) : { ...(this.o.store.jobs.get(b.id)?.batch ?? b) };
      }
      await this.o.store.askCancel(b.id);
      await this.claims.notify(b.id, 'cancel').catch(() => undefined);
      return { ...b, status: 'cancelling', cancelling_at: b.cancelling_at ?? nowSec(), request_counts: { ...b.request_counts } };
    }
    if (b.status === 'validating' || b.status === 'in_progress') {
      b.status = 'cancelling';
      b.cancelling_at = nowSec();
      // Aborted before the save is awaited: a validation ending meanwhile must see the cancel, or it
      // would set the job in_progress over it.
      this.live.get(b.id)?.abort.abort('cancel');
      await this.save(job);
    }
    return { ...b, request_counts: { ...b.request_counts } };
  }

  /** Each job running here: what it is (its endpoint; an embedding job's model), its lines waiting, running, done and failed (for the metrics and the dashboard). */
  progress(): JobProgress[] {
    return [...this.live.values()].map(({ job: { batch: b }, running }) => ({
      id: b.id,
      kind: b.metadata?.kind === 'embed' ? `embed ${b.metadata.model ?? ''}`.trim() : b.endpoint,
      queued: Math.max(0, b.request_counts.total - b.request_counts.completed - b.request_counts.failed - running),
      running,
      done: b.request_counts.completed,
      failed: b.request_counts.failed,
    }));
  }

  /**
   * The `custom_id`s of the lines a job running here has answered so far, succeeded and failed;
   * undefined when it is not running here (or its results are not open yet).
   */
  answered(id: string): { ok: ReadonlySet<string>; failed: ReadonlySet<string> } | undefined {
    const l = this.live.get(id);
    return l?.out && l.err ? { ok: l.out.done, failed: l.err.done } : undefined;
  }

  /**
   * The lines of a job answered so far, wherever it runs: from the logs in memory here, or read
   * from its logs (a job another replica runs).
   */
  async answeredOf(job: JobRecord): Promise<{ ok: ReadonlySet<string>; failed: ReadonlySet<string> }> {
    const here = this.answered(job.batch.id);
    if (here) return here;
    const ok = new Set<string>();
    const failed = new Set<string>();
    await scan(this.o.store.contentPath(job.outputId), (l) => ok.add(l.custom_id));
    await scan(this.o.store.contentPath(job.errorId), (l) => failed.add(l.custom_id));
    return { ok, failed };
  }

  /** A job as the API shows it: its counts as they are now, also when another replica runs it (its record's counts move only at changes of status). */
  async current(job: JobRecord): Promise<BatchObject> {
    const b = { ...job.batch, request_counts: { ...job.batch.request_counts } };
    if (!this.claims || this.live.has(b.id)) return b;
    // A cancel asked through a replica that does not run the job: `cancelling` until its holder saves it so.
    if ((b.status === 'validating' || b.status === 'in_progress') && (await this.o.store.cancelAsked(b.id))) {
      b.status = 'cancelling';
      b.cancelling_at ??= nowSec();
    }
    if (b.status === 'in_progress' || b.status === 'cancelling' || b.status === 'finalizing') {
      const a = await this.answeredOf(job);
      b.request_counts.completed = a.ok.size;
      b.request_counts.failed = a.failed.size;
    }
    return b;
  }

  /** Stops starting lines, waits for the running ones (the pipeline's shutdown ends them), and flushes the logs. */
  async close(): Promise<void> {
    this.claims?.stop();
    this.stop.abort();
    await Promise.all([...this.live.values()].map((l) => l.done));
    await this.saving;
  }

  /** Signals that no line should start any more (the gateway is closing); `close()` waits for the rest. */
  stopping(): void {
    this.claims?.stop();
    this.stop.abort();
  }

  /** Runs a job whose lease was just taken here, from its record as the store has it now. */
  private async take(id: string, lease: JobLease): Promise<void> {
    const job = await this.o.store.reloadJob(id);
    if (!job || isFinished(job.batch.status) || this.live.has(id) || this.stop.signal.aborted) return lease.release();
    this.o.logger.info({ batch: id, status: job.batch.status }, 'batch job taken over');
    this.start(job, lease);
    if ((job.batch.status === 'validating' || job.batch.status === 'in_progress') && (await this.o.store.cancelAsked(id))) await this.cancel(job);
  }

  private start(job: JobRecord, lease?: JobLease): void {
    const live: Live = { job, abort: new AbortController(), running: 0, done: Promise.resolve(), lease };
    if (job.batch.status === 'cancelling') live.abort.abort('cancel');
    this.live.set(job.batch.id, live);
    lease?.signal.addEventListener('abort', () => {
      const why: unknown = lease.signal.reason;
      if (why instanceof JobLeaseLostError) this.o.logger.warn({ batch: job.batch.id, reason: why.message }, 'batch job stopped here: its lease is lost');
    });
    live.done = this.drive(live)
      .catch((e: unknown) => {
        // A lost lease is logged when it is lost (above); whatever it cut short is not a failure.
        if (!(e instanceof JobLeaseLostError)) this.o.logger.error({ err: e, batch: job.batch.id }, 'batch job failed');
      })
      .finally(async () => {
        await Promise.all([live.out?.close(), live.err?.close()]);
        this.live.delete(job.batch.id);
        await lease?.release();
      });
  }

  private async drive(live: Live): Promise<void> {
    const { job } = live;
    const b = job.batch;
    const input = this.o.store.contentPath(b.input_file_id);
    if (b.status === 'validating') {
      let v: Validation;
      try {
        v = await validateInput(input, b.endpoint);
      } catch (e) {
        b.errors = {
          object: 'list',
          data: [{ code: 'file_unreadable', message: `the input file could not be read: ${(e as Error).message}`, param: 'input_file_id', line: null }],
        };
        return this.end(live, 'failed');
      }
      if (v.errors.length > 0) {
        const more = v.errorCount - v.errors.length;
        const tail = more > 0 ? [{ code: 'too_many_errors', message: `${more} more lines have errors`, param: null, line: null }] : [];
        b.errors = { object: 'list', data: [...v.errors, ...tail] };
        return this.end(live, 'failed');
      }
      b.request_counts.total = v.total;
      if (live.abort.signal.aborted) return this.settle(live);
      b.status = 'in_progress';
      b.in_progress_at = nowSec();
      await this.save(job);
    }
    // Opening cuts a torn tail off: a write like any other.
    await fence(live.lease);
    const fenced = live.lease && (() => fence(live.lease));
    live.out = await ResultLog.open(this.o.store.contentPath(job.outputId), fenced);
    live.err = await ResultLog.open(this.o.store.contentPath(job.errorId), fenced);
    const count = () => {
      b.request_counts.completed = live.out!.count;
      b.request_counts.failed = live.err!.count;
    };
    count();
    if (b.status === 'in_progress') {
      const msLeft = b.expires_at * 1000 - Date.now();
      if (msLeft <= 0) live.abort.abort('expire');
      const expiry = setTimeout(() => live.abort.abort('expire'), Math.max(0, msLeft));
      expiry.unref();
      try {
        const runner = new BatchRunner(this.o.pipeline, { concurrency: this.o.concurrency, clientKey: this.o.clientKeyOf(job.owner) });
        const lines = this.pending(live, input, b.endpoint, () => live.running++);
        const onResult = (r: LineResult) =>
          this.record(live, r)
            .then(count)
            .finally(() => live.running--);
        // A lost lease cancels the running lines and starts no more (none is recorded: see `record`).
        const lost = live.lease?.signal;
        const signal = lost ? AbortSignal.any([live.abort.signal, lost]) : live.abort.signal;
        await runner.run(lines, onResult, { signal, stop: lost ? AbortSignal.any([this.stop.signal, lost]) : this.stop.signal });
      } finally {
        clearTimeout(expiry);
      }
    }
    if (leaseLost(live.lease)) return;
    // Stopped by the shutdown with lines left: the job stays as it is, and resumes at the next start.
    if (this.stop.signal.aborted && !live.abort.signal.aborted && (await this.hasPending(live, input, b.endpoint))) return;
    await this.settle(live);
    count();
  }

  /** Writes the lines no run will answer (cancelled or expired), then ends the job accordingly. */
  private async settle(live: Live): Promise<void> {
    const reason = live.abort.signal.reason as 'cancel' | 'expire' | undefined;
    if (live.out && live.err && reason) {
      const code = reason === 'cancel' ? 'batch_cancelled' : 'batch_expired';
      const message = reason === 'cancel' ? 'the batch was cancelled before this line ran' : 'the batch expired before this line ran';
      for await (const line of this.pending(live, this.o.store.contentPath(live.job.batch.input_file_id), live.job.batch.endpoint)) {
        await live.err.append(errorLine(line.custom_id, code, message));
      }
    }
    if (live.out && live.err) {
      live.job.batch.request_counts.completed = live.out.count;
      live.job.batch.request_counts.failed = live.err.count;
    }
    await this.end(live, reason === 'cancel' ? 'cancelled' : reason === 'expire' ? 'expired' : 'completed');
  }

  /** The job's final status, and its logs become its output and error files. */
  private async end(live: Live, status: BatchStatus): Promise<void> {
    const { job } = live;
    const b = job.batch;
    await fence(live.lease);
    if (status === 'completed' && b.status !== 'finalizing') {
      b.status = 'finalizing';
      b.finalizing_at = nowSec();
      await this.save(job);
    }
    const now = nowSec();
    for (const [log, id, field] of [
      [live.out, job.outputId, 'output_file_id'],
      [live.err, job.errorId, 'error_file_id'],
    ] as const) {
      if (!log || log.count === 0) continue;
      await log.sync();
      const { size } = await stat(log.path);
      await this.o.store.addFile(job.owner, {
        id,
        object: 'file',
        bytes: size,
        created_at: now,
        filename: `${b.id}_${field === 'output_file_id' ? 'output' : 'error'}.jsonl`,
        purpose: 'batch_output',
        status: 'processed',
        expires_at: null,
        status_details: null,
      });
      b[field] = id;
    }
    b.status = status;
    if (status === 'completed') b.completed_at = now;
    if (status === 'failed') b.failed_at = now;
    if (status === 'cancelled') b.cancelled_at = now;
    if (status === 'expired') b.expired_at = now;
    await this.save(job);
  }

  /** Records a line's result, unless the shutdown cut it (then it runs again at the next start). */
  private async record(live: Live, r: LineResult): Promise<void> {
    if (leaseLost(live.lease)) return;
    if (r.error && this.stop.signal.aborted && !r.aborted) return;
    if (r.aborted) {
      const reason = live.abort.signal.reason === 'expire' ? 'batch_expired' : 'batch_cancelled';
      await live.err!.append(errorLine(r.custom_id, reason, `the batch was ${reason === 'batch_expired' ? 'expired' : 'cancelled'} while this line ran`));
      return;
    }
    const line = BatchRunner.resultLine(r);
    await (r.error ? live.err! : live.out!).append(line);
  }

  /** The input lines with no result yet; `taken` is called as each is handed out. */
  private async *pending(live: Live, input: string, endpoint: string, taken: () => void = () => undefined): AsyncGenerator<BatchLine> {
    for await (const line of inputLines(input, endpoint)) {
      if (live.out!.done.has(line.custom_id) || live.err!.done.has(line.custom_id)) continue;
      taken();
      yield line;
    }
  }

  private async hasPending(live: Live, input: string, endpoint: string): Promise<boolean> {
    for await (const _ of this.pending(live, input, endpoint)) return true;
    return false;
  }

  /** Saves the record as it is now; saves are written one at a time, in order. */
  private save(job: JobRecord): Promise<void> {
    const text = JSON.stringify(job);
    const lease = this.live.get(job.batch.id)?.lease;
    const p = this.saving.then(async () => {
      await fence(lease);
      await this.o.store.saveJob(job, text);
    });
    this.saving = p.catch(() => undefined);
    return p;
  }
}

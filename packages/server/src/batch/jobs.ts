import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { inputLines, type Validation, validateInput } from './input';
import { ResultLog } from './result-log';
import { BatchRunner, type BatchPipeline, type LineResult } from './runner';
import type { BatchStore } from './store';
import { type BatchLine, type BatchObject, type BatchStatus, isFinished, type JobRecord, type ResultLine } from './types';
import { newId } from './disk';

export interface BatchJobsOptions {
  store: BatchStore;
  pipeline: () => BatchPipeline;
  /** A job's lines in the pipeline at once, read before each line starts. */
  concurrency: () => number;
  /** The client key a job's owner runs as (per-client limits), when it is known. */
  clientKeyOf: (owner: string) => string | undefined;
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
}

const nowSec = (): number => Math.floor(Date.now() / 1000);
const COMPLETION_WINDOW_SEC = 24 * 3600;

/**
 * The batch jobs: each is validated, run line by line through a {@link BatchRunner} (results
 * appended to its output and error logs as they come), and finalized, its logs becoming files.
 * A job's record is saved at each change of status; its progress is the logs themselves. At start
 * every unfinished job resumes where its record and logs left it: a line with a result in either
 * log is not run again; a line that was running when the process died has none, and runs again.
 * `close()` stops starting lines and keeps what ends well; a line cut by the shutdown is not
 * recorded, so that it runs again at the next start.
 */
export class BatchJobs {
  private readonly live = new Map<string, Live>();
  private readonly stop = new AbortController();
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly o: BatchJobsOptions) {}

  /** Resumes every unfinished job of the store. */
  resumeAll(): void {
    for (const job of this.o.store.jobs.values()) if (!isFinished(job.batch.status)) this.start(job);
  }

  /** Creates a job over an input file (already checked to exist and belong to `owner`) and starts it. */
  async create(owner: string, params: { input_file_id: string; endpoint: string; completion_window: string; metadata: Record<string, string> | null }): Promise<BatchObject> {
    const now = nowSec();
    const job: JobRecord = {
      owner,
      outputId: newId('file-'),
      errorId: newId('file-'),
      batch: {
        id: newId('batch_'),
        object: 'batch',
        endpoint: params.endpoint,
        errors: null,
        input_file_id: params.input_file_id,
        completion_window: params.completion_window,
        status: 'validating',
        output_file_id: null,
        error_file_id: null,
        created_at: now,
        in_progress_at: null,
        expires_at: now + COMPLETION_WINDOW_SEC,
        finalizing_at: null,
        completed_at: null,
        failed_at: null,
        expired_at: null,
        cancelling_at: null,
        cancelled_at: null,
        request_counts: { total: 0, completed: 0, failed: 0 },
        metadata: params.metadata,
      },
    };
    await this.save(job);
    this.start(job);
    return { ...job.batch };
  }

  /** Asks a job to stop: `cancelling` at once, `cancelled` once its running lines have ended. */
  async cancel(job: JobRecord): Promise<BatchObject> {
    const b = job.batch;
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

  /** Stops starting lines, waits for the running ones (the pipeline's shutdown ends them), and flushes the logs. */
  async close(): Promise<void> {
    this.stop.abort();
    await Promise.all([...this.live.values()].map((l) => l.done));
    await this.saving;
  }

  /** Signals that no line should start any more (the gateway is closing); `close()` waits for the rest. */
  stopping(): void {
    this.stop.abort();
  }

  private start(job: JobRecord): void {
    const live: Live = { job, abort: new AbortController(), running: 0, done: Promise.resolve() };
    if (job.batch.status === 'cancelling') live.abort.abort('cancel');
    this.live.set(job.batch.id, live);
    live.done = this.drive(live)
      .catch((e: unknown) => this.o.logger.error({ err: e, batch: job.batch.id }, 'batch job failed'))
      .finally(async () => {
        await Promise.all([live.out?.close(), live.err?.close()]);
        this.live.delete(job.batch.id);
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
    live.out = await ResultLog.open(this.o.store.contentPath(job.outputId));
    live.err = await ResultLog.open(this.o.store.contentPath(job.errorId));
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
        await runner.run(lines, onResult, { signal: live.abort.signal, stop: this.stop.signal });
      } finally {
        clearTimeout(expiry);
      }
    }
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
    const p = this.saving.then(() => this.o.store.saveJob(job, text));
    this.saving = p.catch(() => undefined);
    return p;
  }
}

function errorLine(custom_id: string, code: string, message: string): ResultLine {
  return { id: newId('batch_req_'), custom_id, response: null, error: { code, message } };
}

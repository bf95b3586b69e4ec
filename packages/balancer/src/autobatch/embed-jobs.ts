import { randomUUID } from 'node:crypto';
import type { EmbedCall } from '@ollama-ring/protocol';
import type { BalancerConfig } from '../config/types';
import { BalancerError, QueueFullError, ValidationError } from '../errors';
import type { AutobatchMetrics } from '../metrics-autobatch';
import type { Pipeline } from '../pipeline';
import { runEmbed } from './embed-call';

export type EmbedJobStatus = 'queued' | 'running' | 'completed' | 'failed';

/** What `/api/batch-status/:id` shows of a job. */
export interface EmbedJobSummary {
  id: string;
  model: string;
  status: EmbedJobStatus;
  /** Documents in the job, embedded so far, and failed (those of a failed chunk). */
  total: number;
  embedded: number;
  failed: number;
  /** Epoch ms. */
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  error?: string;
}

/** A finished job's vectors, one per document, in the documents' order. */
export interface EmbedJobResults extends EmbedJobSummary {
  embeddings: number[][];
  promptTokens: number;
}

/** A job id that is unknown (never made, or past its retention) or whose results are not ready. */
export class BatchJobError extends BalancerError {
  static override brand = 'ERR_BATCH_JOB';
  constructor(code: 'ERR_BATCH_JOB_NOT_FOUND' | 'ERR_BATCH_JOB_NOT_READY', message: string) {
    super(code, code === 'ERR_BATCH_JOB_NOT_FOUND' ? 404 : 409, message);
  }
}

interface Job {
  summary: EmbedJobSummary;
  common: Record<string, unknown>;
  docs: readonly string[];
  vectors: number[][];
  promptTokens: number;
  /** The next document not yet sent. */
  next: number;
  /** Chunks sent and not yet answered. */
  running: number;
}

export interface EmbedJobsDeps {
  config: () => BalancerConfig;
  pipeline: () => Pipeline;
  metrics?: AutobatchMetrics;
  now?: () => number;
}

/**
 * The `/api/embed/batch` jobs: documents queued for embedding in the background, in chunks of
 * `autobatch.jobs.chunkSize` sent as `/api/embed` calls with `requestClass: 'batch'`, at most
 * `jobs.concurrency` at a time over all jobs, oldest job first. A chunk that fails (after the
 * pipeline's own retries) fails its job; the chunks already sent finish, no more are sent.
 *
 * The registry is in memory and does not survive a restart. It holds at most `jobs.maxJobs` jobs
 * (a new one is refused while that many are unfinished; finished ones are dropped oldest first to
 * make room) and keeps a finished job `jobs.retentionMs`, swept when the registry is next used.
 */
export class EmbedJobs {
  private readonly jobs = new Map<string, Job>();
  private inFlight = 0;
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly deps: EmbedJobsDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Queues `docs` (an `/api/embed` call's form, `input` being the documents); returns the job. */
  submit(call: EmbedCall): EmbedJobSummary {
    const cfg = this.deps.config().autobatch.jobs;
    if (this.closed) throw new QueueFullError('the balancer is shutting down');
    if (call.inputs.length > cfg.maxDocs) throw new ValidationError(`a batch job takes at most ${cfg.maxDocs} documents (autobatch.jobs.maxDocs); got ${call.inputs.length}`, 413);
    this.sweep();
    if (this.jobs.size >= cfg.maxJobs) throw new QueueFullError(`${this.jobs.size} batch jobs are unfinished (autobatch.jobs.maxJobs): try again later`, 5);
    const id = `embed-${randomUUID()}`;
    const summary: EmbedJobSummary = { id, model: call.model, status: 'queued', total: call.inputs.length, embedded: 0, failed: 0, createdAt: this.now() };
    this.jobs.set(id, { summary, common: call.common, docs: call.inputs, vectors: new Array<number[]>(call.inputs.length), promptTokens: 0, next: 0, running: 0 });
    this.pump();
    return { ...summary };
  }

  get(id: string): EmbedJobSummary {
    this.sweep();
    return { ...this.job(id).summary };
  }

  /** Every job held, newest first, and how many are in each state. */
  list(): { jobs: EmbedJobSummary[]; counts: Record<EmbedJobStatus, number> } {
    this.sweep();
    const counts: Record<EmbedJobStatus, number> = { queued: 0, running: 0, completed: 0, failed: 0 };
    const jobs = [...this.jobs.values()].map((j) => ({ ...j.summary })).reverse();
    for (const j of jobs) counts[j.status]++;
    return { jobs, counts };
  }

  results(id: string): EmbedJobResults {
    this.sweep();
    const j = this.job(id);
    if (j.summary.status !== 'completed')
      throw new BatchJobError('ERR_BATCH_JOB_NOT_READY', `batch job ${id} is ${j.summary.status}${j.summary.error ? ` (${j.summary.error})` : ''}: its results are not available`);
    return { ...j.summary, embeddings: j.vectors, promptTokens: j.promptTokens };
  }

  /** Sends no more chunks (those in flight finish with the pipeline's shutdown). */
  close(): void {
    this.closed = true;
  }

  private job(id: string): Job {
    const j = this.jobs.get(id);
    if (!j)
      throw new BatchJobError(
        'ERR_BATCH_JOB_NOT_FOUND',
        `batch job ${id} not found (jobs are kept in memory for autobatch.jobs.retentionMs after they finish, and not across restarts)`,
      );
    return j;
  }

  /** Drops finished jobs past their retention, then the oldest finished ones beyond `maxJobs`. */
  private sweep(): void {
    const cfg = this.deps.config().autobatch.jobs;
    const now = this.now();
    const finished: string[] = [];
    for (const [id, j] of this.jobs) {
      if (j.summary.finishedAt === undefined) continue;
      if (now - j.summary.finishedAt >= cfg.retentionMs) this.jobs.delete(id);
      else finished.push(id);
    }
    // Map order is creation order: the oldest go first.
    for (let i = 0; this.jobs.size >= cfg.maxJobs && i < finished.length; i++) this.jobs.delete(finished[i]);
  }

  private pump(): void {
    const full = this.deps.config();
    const cfg = full.autobatch.jobs;
    for (const j of this.jobs.values()) {
      while (!this.closed && this.inFlight < cfg.concurrency && j.summary.status !== 'failed' && j.next < j.docs.length) {
        this.sendChunk(j, chunkEnd(j.docs, j.next, cfg.chunkSize, full.validation.maxPromptLength));
      }
      if (this.inFlight >= cfg.concurrency) return;
    }
  }

  private sendChunk(j: Job, end: number): void {
    const from = j.next;
    const docs = j.docs.slice(from, end);
    j.next += docs.length;
    j.running++;
    this.inFlight++;
    if (j.summary.status === 'queued') {
      j.summary.status = 'running';
      j.summary.startedAt = this.now();
    }
    let result;
    try {
      result = runEmbed(this.deps.pipeline(), j.common, docs, 1, { requestClass: 'batch' }).result;
    } catch (e) {
      result = Promise.reject(e as Error);
    }
    result
      .then(
        (r) => {
          r.vectors.forEach((v, i) => (j.vectors[from + i] = v));
          j.promptTokens += r.promptTokens;
          j.summary.embedded += docs.length;
          this.deps.metrics?.recordDocs('embedded', docs.length);
        },
        (e: Error) => {
          j.summary.failed += docs.length;
          this.deps.metrics?.recordDocs('failed', docs.length);
          if (j.summary.status !== 'failed') {
            j.summary.status = 'failed';
            j.summary.error = e.message;
          }
        },
      )
      .finally(() => {
        j.running--;
        this.inFlight--;
        if (j.running === 0 && (j.summary.status === 'failed' || j.next >= j.docs.length)) {
          if (j.summary.status !== 'failed') j.summary.status = 'completed';
          j.summary.finishedAt ??= this.now();
          if (j.summary.status === 'failed') j.vectors = []; // a failed job's results are never read
        }
        this.pump();
      });
  }
}

/**
 * Where the chunk from `from` ends: at most `size` documents and, since validation counts a call's
 * characters over all its inputs, at most `maxChars` of them, but always one document (one over the
 * limit fails its chunk with validation's own 400).
 */
function chunkEnd(docs: readonly string[], from: number, size: number, maxChars: number): number {
  let end = from + 1;
  let chars = docs[from].length;
  while (end < docs.length && end - from < size && chars + docs[end].length <= maxChars) chars += docs[end++].length;
  return end;
}

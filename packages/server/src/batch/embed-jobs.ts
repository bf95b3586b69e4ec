import { open } from 'node:fs/promises';
import { type BalancerConfig, BalancerError, QueueFullError, ValidationError } from '@ollama-ring/balancer';
import type { EmbedCall } from '@ollama-ring/protocol';
import { scan } from './result-log';
import type { BatchService } from './service';
import { isFinished, type JobRecord, type ResultLine } from './types';

export type EmbedJobStatus = 'queued' | 'running' | 'completed' | 'failed';

/** What `/api/batch-status/:id` shows of a job. */
export interface EmbedJobSummary {
  id: string;
  model: string;
  status: EmbedJobStatus;
  /**
   * Documents in the job, embedded and failed: exact once it has finished; while it runs, counted in
   * whole chunks (a chunk's documents count once its `/api/embed` call has answered).
   */
  total: number;
  embedded: number;
  failed: number;
  /** Epoch ms, to the second (the batch's own times are in seconds). */
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

/** An embedding job that is unknown (never made, another key's, or past `batch.retentionMs`) or whose results are not ready. */
export class EmbedJobError extends BalancerError {
  static override brand = 'ERR_BATCH_JOB';
  constructor(code: 'ERR_BATCH_JOB_NOT_FOUND' | 'ERR_BATCH_JOB_NOT_READY', message: string) {
    super(code, code === 'ERR_BATCH_JOB_NOT_FOUND' ? 404 : 409, message);
  }
}

/** The endpoint an embedding job's lines call. */
const ENDPOINT = '/api/embed';
/** A line's `custom_id`: the documents `[start, end)` it embeds. */
const RANGE = /^docs-(\d+)-(\d+)$/;

/** What the error file of a finished job says: documents failed, and the first error. */
interface Failures {
  failed: number;
  error?: string;
}

/**
 * The `/api/embed/batch` jobs, run as batch jobs of the gateway's durable store (`BatchService`):
 * a job is an input file of `/api/embed` lines, one per chunk of at most `autobatch.jobs.chunkSize`
 * documents (`custom_id` `docs-<start>-<end>`), and a batch over it with `metadata.kind` `embed`.
 * It therefore survives a restart or a crash and resumes where it stopped, each chunk answered
 * exactly once; it runs `batch.concurrency` chunks at a time, is kept `batch.retentionMs` after it
 * ends, and is visible (with its input file) through `/v1/batches` and `/v1/files` too. This class
 * is a view: its status is read from the batch, its results from the batch's output file. A job
 * with any failed chunk is failed, with the first chunk's error.
 *
 * @example
 * const jobs = new EmbedJobs(await BatchService.open({ … }), () => factory.getConfig());
 * const job = await jobs.submit('anyone', embedCallOf(Route.Embed, body)!);
 */
export class EmbedJobs {
  /** Submissions writing their input file, counted against `maxJobs` before their batch exists. */
  private submitting = 0;
  /** A finished job's failures never change: read from its error file once. */
  private readonly failures = new Map<string, Failures>();

  constructor(
    private readonly batches: BatchService,
    private readonly config: () => BalancerConfig,
  ) {}

  /** Queues the call's documents (`call.inputs`) for `owner`; returns the job. */
  async submit(owner: string, call: EmbedCall): Promise<EmbedJobSummary> {
    const full = this.config();
    const cfg = full.autobatch.jobs;
    const n = call.inputs.length;
    if (n > cfg.maxDocs) throw new ValidationError(`a batch job takes at most ${cfg.maxDocs} documents (autobatch.jobs.maxDocs); got ${n}`, 413);
    await this.batches.store.refresh();
    const unfinished = this.embedJobs().filter((j) => !isFinished(j.batch.status)).length + this.submitting;
    if (unfinished >= cfg.maxJobs) throw new QueueFullError(`${unfinished} batch jobs are unfinished (autobatch.jobs.maxJobs): try again later`, 5);
    this.submitting++;
    try {
      const { store, jobs } = this.batches;
      const tmp = await store.tempPath();
      const bytes = await writeLines(tmp, call, cfg.chunkSize, full.validation.maxPromptLength);
      const now = Math.floor(Date.now() / 1000);
      const input = await store.addUpload(owner, tmp, { bytes, created_at: now, filename: `embed-${n}-docs.jsonl`, purpose: 'batch', expires_at: null });
      const b = await jobs.create(owner, {
        input_file_id: input.file.id,
        endpoint: ENDPOINT,
        completion_window: '24h',
        metadata: { kind: 'embed', model: call.model, docs: String(n), chunk: String(cfg.chunkSize) },
      });
      return await this.get(owner, b.id);
    } finally {
      this.submitting--;
    }
  }

  async get(owner: string, id: string): Promise<EmbedJobSummary> {
    await this.batches.store.refresh();
    return this.view(this.job(owner, id));
  }

  /** The owner's jobs, newest first, and how many are in each state. */
  async list(owner: string): Promise<{ jobs: EmbedJobSummary[]; counts: Record<EmbedJobStatus, number> }> {
    await this.batches.store.refresh();
    const mine = this.embedJobs()
      .filter((j) => j.owner === owner)
      // Ids sort by creation time (see `newId`).
      .sort((a, b) => (a.batch.id < b.batch.id ? 1 : -1));
    const jobs = await Promise.all(mine.map((j) => this.view(j)));
    const counts: Record<EmbedJobStatus, number> = { queued: 0, running: 0, completed: 0, failed: 0 };
    for (const j of jobs) counts[j.status]++;
    return { jobs, counts };
  }

  /** A completed job's vectors, placed by each chunk's range; 409 before it completes or when it failed. */
  async results(owner: string, id: string): Promise<EmbedJobResults> {
    await this.batches.store.refresh();
    const rec = this.job(owner, id);
    const summary = await this.view(rec);
    const out = rec.batch.output_file_id;
    if (summary.status !== 'completed' || out === null) {
      throw new EmbedJobError('ERR_BATCH_JOB_NOT_READY', `batch job ${id} is ${summary.status}${summary.error ? ` (${summary.error})` : ''}: its results are not available`);
    }
    const embeddings = new Array<number[]>(summary.total);
    let promptTokens = 0;
    let placed = 0;
    await scan(this.batches.store.contentPath(out), (line) => {
      const [start, end] = rangeOf(line.custom_id);
      const body = line.response?.body as { embeddings?: number[][]; prompt_eval_count?: number } | undefined;
      const vectors = body?.embeddings;
      if (!Array.isArray(vectors) || vectors.length !== end - start) {
        throw new BalancerError('ERR_INTERNAL', 500, `batch job ${id}: chunk ${line.custom_id} answered ${Array.isArray(vectors) ? vectors.length : 'no'} vectors`);
      }
      vectors.forEach((v, i) => (embeddings[start + i] = v));
      placed += vectors.length;
      promptTokens += body?.prompt_eval_count ?? 0;
    });
    if (placed !== summary.total) throw new BalancerError('ERR_INTERNAL', 500, `batch job ${id}: its output has ${placed} of ${summary.total} vectors`);
    return { ...summary, embeddings, promptTokens };
  }

  private embedJobs(): JobRecord[] {
    return [...this.batches.store.jobs.values()].filter((j) => j.batch.metadata?.kind === 'embed');
  }

  private job(owner: string, id: string): JobRecord {
    const j = this.batches.store.jobs.get(id);
    if (!j || j.owner !== owner || j.batch.metadata?.kind !== 'embed') {
      throw new EmbedJobError('ERR_BATCH_JOB_NOT_FOUND', `batch job ${id} not found (a job is kept batch.retentionMs after it ends)`);
    }
    return j;
  }

  private async view(rec: JobRecord): Promise<EmbedJobSummary> {
    const b = rec.batch;
    const total = Number(b.metadata?.docs ?? 0);
    const ms = (sec: number | null): number | undefined => (sec === null ? undefined : sec * 1000);
    const base = { id: b.id, model: b.metadata?.model ?? '', total, createdAt: b.created_at * 1000, startedAt: ms(b.in_progress_at) };
    if (!isFinished(b.status)) {
      // Read from the logs when another replica runs it; none yet while it is being validated.
      const answered = b.status === 'validating' ? undefined : await this.batches.jobs.answeredOf(rec);
      const embedded = answered ? docsIn(answered.ok) : 0;
      const failed = answered ? docsIn(answered.failed) : 0;
      return { ...base, status: b.status === 'validating' ? 'queued' : 'running', embedded, failed };
    }
    const finishedAt = ms(b.completed_at ?? b.failed_at ?? b.cancelled_at ?? b.expired_at);
    if (b.status === 'failed') {
      // The input we wrote failed validation (or could not be read): nothing ran.
      return { ...base, status: 'failed', embedded: 0, failed: total, finishedAt, error: b.errors?.data[0]?.message ?? 'the batch failed' };
    }
    const f = await this.failuresOf(rec);
    const status = f.failed === 0 && b.status === 'completed' ? 'completed' : 'failed';
    const error = status === 'failed' ? (f.error ?? `the batch was ${b.status}`) : undefined;
    // Every chunk has a result line once a batch that ran has ended; one cancelled while it was
    // validating has none, and embedded nothing.
    const embedded = b.request_counts.completed === 0 ? 0 : total - f.failed;
    return { ...base, status, embedded, failed: total - embedded, finishedAt, ...(error === undefined ? {} : { error }) };
  }

  private async failuresOf(rec: JobRecord): Promise<Failures> {
    const id = rec.batch.error_file_id;
    if (id === null) return { failed: 0 };
    const known = this.failures.get(rec.batch.id);
    if (known) return known;
    const f: Failures = { failed: 0 };
    await scan(this.batches.store.contentPath(id), (line) => {
      const [start, end] = rangeOf(line.custom_id);
      f.failed += end - start;
      f.error ??= messageOf(line);
    });
    // Forget the jobs the retention sweep has deleted, now and then.
    if (this.failures.size >= 2 * this.batches.store.jobs.size + 64) {
      for (const k of this.failures.keys()) if (!this.batches.store.jobs.has(k)) this.failures.delete(k);
    }
    this.failures.set(rec.batch.id, f);
    return f;
  }
}

/** The documents `[start, end)` a line's `custom_id` names. */
function rangeOf(customId: string): [number, number] {
  const m = RANGE.exec(customId);
  if (!m) throw new BalancerError('ERR_INTERNAL', 500, `an embedding job's line has custom_id '${customId}', not docs-<start>-<end>`);
  return [Number(m[1]), Number(m[2])];
}

function docsIn(ids: Iterable<string>): number {
  let n = 0;
  for (const id of ids) {
    const [start, end] = rangeOf(id);
    n += end - start;
  }
  return n;
}

/** Why a failed line failed: its error, or the error its request was answered with. */
function messageOf(line: ResultLine): string {
  if (line.error) return line.error.message;
  const body = line.response?.body as { error?: unknown } | string | undefined;
  const err = typeof body === 'object' && body !== null ? body.error : body;
  if (typeof err === 'string') return err;
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') return (err as { message: string }).message;
  return `the chunk was answered with status ${line.response?.status_code ?? 'unknown'}`;
}

/**
 * Writes the job's input file at `path`, one `/api/embed` line per chunk, and flushes it to disk;
 * returns its size in bytes.
 */
async function writeLines(path: string, call: EmbedCall, size: number, maxChars: number): Promise<number> {
  const fh = await open(path, 'w');
  let bytes = 0;
  try {
    const docs = call.inputs;
    let part: string[] = [];
    for (let start = 0; start < docs.length;) {
      const end = chunkEnd(docs, start, size, maxChars);
      const line = { custom_id: `docs-${start}-${end}`, method: 'POST', url: ENDPOINT, body: { ...call.common, model: call.model, input: docs.slice(start, end) } };
      part.push(JSON.stringify(line) + '\n');
      start = end;
      // Written a few hundred lines at a time: neither one write per line nor the whole file in one string.
      if (part.length >= 256 || start >= docs.length) {
        const buf = Buffer.from(part.join(''));
        await fh.write(buf);
        bytes += buf.length;
        part = [];
      }
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  return bytes;
}

/**
 * Where the chunk from `from` ends: at most `size` documents and, since validation counts a call's
 * characters over all its inputs, at most `maxChars` of them, but always one document (one over the
 * limit fails its chunk with validation's own 400).
 */
export function chunkEnd(docs: readonly string[], from: number, size: number, maxChars: number): number {
  let end = from + 1;
  let chars = docs[from].length;
  while (end < docs.length && end - from < size && chars + docs[end].length <= maxChars) chars += docs[end++].length;
  return end;
}

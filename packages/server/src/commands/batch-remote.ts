/**
 * `ollama-ring batch … --url`: a running gateway's Batch API (OpenAI's Files and Batches), as a
 * client: upload, create, poll, cancel, download.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { openAsBlob } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineSplitter, OllamaRingError } from '@ollama-ring/protocol';
import { type BatchObject, type FileObject, isFinished, type ResultLine } from '../batch/types';
import type { DirItem } from './batch-dir';
import { type BatchOutput, Progress } from './batch-output';
import { type CliIo, UsageError } from './types';
import { sleepUnless } from '@ollama-ring/balancer';

/** `--url` checked and without a trailing slash. */
export function gatewayUrl(url: string): string {
  const base = url.replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(base) || !URL.canParse(base)) throw new UsageError(`--url must be an http(s) URL, got '${url}'`);
  return base;
}

/** The gateway could not be reached, or refused a call; the message says which and why. */
export class GatewayCallError extends OllamaRingError {
  static override brand = 'ERR_BATCH_GATEWAY';
  constructor(message: string) {
    super(GatewayCallError.brand, message);
  }
}

/** The Batch API of one gateway. */
export class BatchClient {
  constructor(
    readonly base: string,
    private readonly apiKey: string | undefined,
    private readonly timeoutMs = 30_000,
  ) {}

  getBatch(id: string): Promise<BatchObject> {
    return this.json<BatchObject>('GET', `/v1/batches/${encodeURIComponent(id)}`);
  }

  listBatches(limit: number): Promise<{ data: BatchObject[]; has_more: boolean }> {
    return this.json('GET', `/v1/batches?limit=${limit}`);
  }

  cancel(id: string): Promise<BatchObject> {
    return this.json<BatchObject>('POST', `/v1/batches/${encodeURIComponent(id)}/cancel`);
  }

  create(inputFileId: string, endpoint: string): Promise<BatchObject> {
    return this.json<BatchObject>('POST', '/v1/batches', { input_file_id: inputFileId, endpoint, completion_window: '24h', metadata: { created_by: 'ollama-ring batch run' } });
  }

  /** Uploads the JSONL file at `path` as a batch input. */
  async upload(path: string, filename: string): Promise<FileObject> {
    const form = new FormData();
    form.append('purpose', 'batch');
    form.append('file', await openAsBlob(path), filename);
    return this.call<FileObject>('POST', '/v1/files', form, 'upload', (r) => r.json() as Promise<FileObject>, 0);
  }

  /** Calls `each` with each result line of a file, streamed. */
  async eachResult(fileId: string, each: (line: ResultLine) => Promise<void>): Promise<void> {
    const res = await this.call('GET', `/v1/files/${encodeURIComponent(fileId)}/content`, undefined, 'download', async (r) => r, 0);
    const split = new LineSplitter();
    const handle = async (text: string): Promise<void> => {
      if (text.trim() === '') return;
      const line = JSON.parse(text) as ResultLine;
      await each(line);
    };
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) for (const text of split.push(chunk)) await handle(text);
    await handle(split.end());
  }

  private json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.call(method, path, body === undefined ? undefined : JSON.stringify(body), path, (r) => r.json() as Promise<T>);
  }

  /** One call; a refusal becomes a {@link GatewayCallError} with the gateway's own message. `timeoutMs` 0: none (large transfers). */
  private async call<T>(
    method: string,
    path: string,
    body: string | FormData | undefined,
    what: string,
    read: (r: Response) => Promise<T>,
    timeoutMs = this.timeoutMs,
  ): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    if (typeof body === 'string') headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers, body, signal: timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined });
    } catch (e) {
      throw new GatewayCallError(`cannot reach the gateway at ${this.base}: ${reason(e)} (is \`ollama-ring serve\` running there? --url sets the address)`);
    }
    if (!res.ok) {
      const text = await res.text();
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
      } catch {
        // Not JSON: the text as it is.
      }
      throw new GatewayCallError(`${method} ${path} (${what}) answered ${res.status}: ${message}`);
    }
    return read(res);
  }
}

function reason(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return 'no answer in time';
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(e);
}

export interface RemoteRun {
  client: BatchClient;
  /** The lines still to answer (an error item is written at once, not sent). */
  items: AsyncIterable<DirItem>;
  endpoint: string;
  output: BatchOutput;
  progress: Progress;
  io: CliIo;
  /** First Ctrl-C: the job is cancelled on the gateway, and what it answered is downloaded. */
  stop: AbortSignal;
  /** Second Ctrl-C: return at once; the job goes on cancelling on the gateway. */
  abort: AbortSignal;
  pollMs?: number;
}

/** What a run did; `stopped` when it was interrupted before every line was answered. */
export interface RunOutcome {
  completed: number;
  failed: number;
  stopped: boolean;
  /** The job failed validation on the gateway (its errors were printed). */
  rejected?: boolean;
}

/**
 * Runs the lines as one job on the gateway: writes them to a temporary JSONL file, uploads it,
 * creates the batch, polls it, and appends its output and error files to `output`. Lines the
 * gateway marks `batch_cancelled` (a Ctrl-C here) are not written, so that running again sends them.
 */
export async function runRemote(r: RemoteRun): Promise<RunOutcome> {
  const outcome: RunOutcome = { completed: 0, failed: 0, stopped: false };
  const tmp = await mkdtemp(join(tmpdir(), 'ollama-ring-batch-'));
  try {
    const input = join(tmp, 'input.jsonl');
    const fh = await open(input, 'w');
    let lines = 0;
    try {
      for await (const item of r.items) {
        if ('error' in item) {
          await r.output.write(item.error);
          r.progress.add(item.error);
          outcome.failed++;
        } else {
          await fh.write(JSON.stringify(item.line) + '\n');
          lines++;
        }
      }
    } finally {
      await fh.close();
    }
    if (lines === 0) return outcome;
    const file = await r.client.upload(input, 'input.jsonl');
    let batch = await r.client.create(file.id, r.endpoint);
    r.progress.note(`batch ${batch.id} created on ${r.client.base} (${lines} lines); Ctrl-C cancels it`);
    const base = { done: outcome.failed, failed: outcome.failed };
    let cancelled = false;
    while (!isFinished(batch.status)) {
      if (r.stop.aborted && !cancelled) {
        cancelled = true;
        batch = await r.client.cancel(batch.id);
        r.progress.note(`cancelling batch ${batch.id}: lines not yet started will not run (Ctrl-C again leaves without waiting)`);
      }
      await sleepUnless(r.pollMs ?? 500, ...(cancelled ? [r.abort] : [r.stop, r.abort]));
      if (r.abort.aborted) {
        outcome.stopped = true;
        r.progress.note(`left batch ${batch.id} cancelling on the gateway; 'ollama-ring batch results ${batch.id}' fetches what it answered`);
        return outcome;
      }
      batch = await r.client.getBatch(batch.id);
      const c = batch.request_counts;
      r.progress.set(base.done + c.completed + c.failed, base.failed + c.failed);
    }
    if (batch.status === 'failed') {
      outcome.rejected = true;
      for (const e of batch.errors?.data ?? []) r.io.err(`ollama-ring batch: ${e.message}\n`);
      return outcome;
    }
    for (const id of [batch.output_file_id, batch.error_file_id]) {
      if (!id) continue;
      await r.client.eachResult(id, async (line) => {
        if (line.error?.code === 'batch_cancelled' || r.output.has(line.custom_id)) {
          outcome.stopped = true;
          return;
        }
        await r.output.write(line);
        if (id === batch.output_file_id) outcome.completed++;
        else outcome.failed++;
      });
    }
    outcome.stopped ||= batch.status !== 'completed';
    return outcome;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

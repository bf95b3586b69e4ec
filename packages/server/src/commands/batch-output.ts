/**
 * Where `ollama-ring batch run` writes its results, and the live progress it shows while running.
 */
import { resolve } from 'node:path';
import { ResultLog } from '../batch/result-log';
import type { ResultLine } from '../batch/types';
import type { CliIo } from './types';

/**
 * The result files of a run: every line in `--output`, or, with `--errors FILE`, the failed ones
 * there (as the gateway splits its output and error files). Both are {@link ResultLog}s: a line is
 * written whole or not at all, and reopening cuts off a torn last line, so a run that stopped
 * part-way resumes by skipping the `custom_id`s already written.
 */
export class BatchOutput {
  private constructor(
    private readonly out: ResultLog,
    private readonly err: ResultLog | undefined,
  ) {}

  static async open(output: string, errors?: string): Promise<BatchOutput> {
    const out = await ResultLog.open(output);
    const err = errors !== undefined && resolve(errors) !== resolve(output) ? await ResultLog.open(errors) : undefined;
    return new BatchOutput(out, err);
  }

  /** A result for this `custom_id` is already written (by this run or an earlier one). */
  has(customId: string): boolean {
    return this.out.done.has(customId) || this.err?.done.has(customId) === true;
  }

  /** How many lines are written over both files. */
  get count(): number {
    return this.out.count + (this.err?.count ?? 0);
  }

  /** Appends one result line: a failed one to the error file when there is one. */
  write(line: ResultLine): Promise<void> {
    return (this.err && failed(line) ? this.err : this.out).append(line);
  }

  async close(): Promise<void> {
    await Promise.all([this.out.close(), this.err?.close()]);
  }
}

/** A result line that is not a 2xx answer. */
export function failed(line: ResultLine): boolean {
  return line.error !== null || line.response === null || line.response.status_code < 200 || line.response.status_code >= 300;
}

/** The tokens an answer generated, from either API's counts (0 when it has none). */
export function generatedTokens(body: unknown): number {
  if (typeof body !== 'object' || body === null) return 0;
  const b = body as { eval_count?: unknown; usage?: { completion_tokens?: unknown } };
  if (typeof b.eval_count === 'number') return b.eval_count;
  return typeof b.usage?.completion_tokens === 'number' ? b.usage.completion_tokens : 0;
}

/** How often the progress line is written when stderr is not a terminal. */
export const LOG_EVERY_MS = 5_000;

/**
 * The progress of a run on stderr: on a terminal one line redrawn in place (done/total, failures,
 * req/s, tokens/s, ETA), otherwise one plain line every {@link LOG_EVERY_MS}.
 */
export class Progress {
  private done = 0;
  private failures = 0;
  private tokens = 0;
  private readonly t0 = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private drawn = false;
  private readonly tty: boolean;

  constructor(
    private readonly io: CliIo,
    /** Lines this run has to answer (those already written are not counted). */
    private readonly total: number,
    /** Lines already written by an earlier run. */
    private readonly skipped = 0,
  ) {
    this.tty = io.errIsTTY ?? io.isTTY;
  }

  start(): void {
    this.timer = setInterval(() => this.draw(), this.tty ? 250 : LOG_EVERY_MS);
    this.timer.unref();
    if (this.tty) this.draw();
  }

  /** One line ended. */
  add(line: ResultLine): void {
    this.done++;
    if (failed(line)) this.failures++;
    else this.tokens += generatedTokens(line.response?.body);
  }

  /** Sets the counts outright (a gateway's job reports them as totals). */
  set(done: number, failures: number): void {
    this.done = done;
    this.failures = failures;
  }

  /** A message on its own line, without tearing the progress line. */
  note(text: string): void {
    if (this.drawn) this.io.err('\r\x1b[K');
    this.io.err(text.endsWith('\n') ? text : `${text}\n`);
    if (this.drawn) this.draw();
  }

  /** Stops redrawing and leaves the final counts on their own line. */
  finish(): void {
    clearInterval(this.timer);
    if (this.tty) {
      this.draw();
      this.io.err('\n');
    } else this.io.err(`${this.text()}\n`);
  }

  /** The progress as one line of text. */
  text(): string {
    const secs = Math.max(0.001, (Date.now() - this.t0) / 1000);
    const rate = this.done / secs;
    const left = this.total - this.done;
    const eta = left <= 0 ? '0s' : rate > 0 ? duration(left / rate) : '?';
    const parts = [
      `${this.done}/${this.total} done`,
      `${this.failures} failed`,
      `${rate.toFixed(1)} req/s`,
      ...(this.tokens > 0 ? [`${(this.tokens / secs).toFixed(0)} tok/s`] : []),
      `ETA ${eta}`,
      ...(this.skipped > 0 ? [`(${this.skipped} from an earlier run)`] : []),
    ];
    return `batch: ${parts.join(', ')}`;
  }

  private draw(): void {
    if (this.tty) {
      const cols = this.io.columns ?? 120;
      this.io.err(`\r\x1b[K${this.text().slice(0, cols - 1)}`);
      this.drawn = true;
    } else this.io.err(`${this.text()}\n`);
  }
}

function duration(sec: number): string {
  if (sec < 60) return `${Math.ceil(sec)}s`;
  if (sec < 3600) return `${Math.floor(sec / 60)}m${String(Math.ceil(sec % 60)).padStart(2, '0')}s`;
  return `${Math.floor(sec / 3600)}h${String(Math.floor((sec % 3600) / 60)).padStart(2, '0')}m`;
}

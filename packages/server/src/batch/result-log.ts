import { createReadStream } from 'node:fs';
import { type FileHandle, open, stat, truncate } from 'node:fs/promises';
import { LineSplitter } from '@ollama-ring/protocol';
import { newId } from './disk';
import type { ResultLine } from './types';

/**
 * A results file (a job's output or errors), appended one whole line per result. A result is
 * recorded exactly when its line, newline included, is in the file: each line goes in one `write`
 * on a file opened for appending, and on reopening ({@link ResultLog.open}) a torn or unreadable
 * tail (a crash or power loss mid-write) is cut off, so that its line runs again. Lines are flushed
 * to disk by `sync()` (the job calls it on every status change and at the end): a SIGKILL loses
 * nothing written, a power loss at most the lines since the last flush, which then run again.
 */
export class ResultLog {
  private fh: FileHandle | undefined;
  private tail: Promise<void> = Promise.resolve();
  /** Lines appended since the last flush. */
  private dirty = 0;

  private constructor(
    readonly path: string,
    /** The `custom_id`s of the lines already in the file. */
    readonly done: Set<string>,
    private readonly fence?: () => Promise<void>,
  ) {}

  /**
   * Opens (creating if need be) the log at `path`, first cutting any torn tail off. `fence`, when
   * given, is awaited before each line is written and throws when this process may no longer
   * write the log (replicas: the job's lease is lost, and another replica may be writing it).
   */
  static async open(path: string, fence?: () => Promise<void>): Promise<ResultLog> {
    const done = new Set<string>();
    const good = await scan(path, (line) => done.add(line.custom_id));
    const size = await stat(path).then(
      (s) => s.size,
      () => -1,
    );
    if (size > good) await truncate(path, good);
    const log = new ResultLog(path, done, fence);
    log.fh = await open(path, 'a');
    return log;
  }

  get count(): number {
    return this.done.size;
  }

  /** Appends one result; resolves once it is in the file (not yet flushed to disk: see `sync`). */
  append(line: ResultLine): Promise<void> {
    const text = Buffer.from(JSON.stringify(line) + '\n');
    const write = this.tail.then(async () => {
      if (!this.fh) throw new Error(`result log ${this.path} is closed`);
      await this.fence?.();
      await this.fh.write(text);
      this.done.add(line.custom_id);
      this.dirty++;
    });
    // The next append waits for this one whatever it did: one line at a time, in order.
    this.tail = write.catch(() => undefined);
    return write;
  }

  /** Flushes what was appended to disk. */
  async sync(): Promise<void> {
    await this.tail;
    if (!this.fh || this.dirty === 0) return;
    this.dirty = 0;
    await this.fh.sync();
  }

  async close(): Promise<void> {
    await this.sync();
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close();
  }
}

/**
 * Reads the complete, parseable result lines of `path` (none when it does not exist), calling
 * `each` for each, and returns the byte length they take: everything after is a torn tail.
 */
export async function scan(path: string, each: (line: ResultLine) => void): Promise<number> {
  let good = 0;
  let broken = false;
  const lines = new LineSplitter();
  try {
    for await (const chunk of createReadStream(path)) {
      if (broken) break;
      for (const text of lines.push(chunk as Buffer)) {
        const line = parseResult(text);
        if (!line) {
          broken = true;
          break;
        }
        each(line);
        good += Buffer.byteLength(text) + 1;
      }
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  return good;
}

function parseResult(text: string): ResultLine | undefined {
  try {
    const v = JSON.parse(text) as ResultLine;
    return typeof v === 'object' && v !== null && typeof v.custom_id === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A result line for an input line no request answered (cancelled, expired), in OpenAI's shape. */
export function errorLine(custom_id: string, code: string, message: string): ResultLine {
  return { id: newId('batch_req_'), custom_id, response: null, error: { code, message } };
}

/**
 * A minimal HTTP/1.1 streaming client on raw sockets: one request per connection, a small chunked
 * decoder, and nothing else. It exists to tell the sim's timing apart from the load generator's: on
 * two shared cores, undici's per-chunk work and garbage show up as gap errors that are not the sim's.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { LoadOptions, StreamResult } from './load';

const CR = 0x0d;
const NL = 0x0a;

/**
 * Decodes `Transfer-Encoding: chunked` incrementally and counts newlines in the payload. It
 * allocates nothing per chunk: at 25k chunks/s, this client's own garbage-collection pauses
 * otherwise show up as stalls in the very gaps it measures.
 */
class ChunkedLineCounter {
  private size = -1;
  private sizeAcc = 0;
  private skip = 0;
  ended = false;
  lines = 0;

  push(buf: Buffer, from: number): void {
    let i = from;
    const n = buf.length;
    while (i < n && !this.ended) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, n - i);
        i += k;
        this.skip -= k;
        continue;
      }
      if (this.size < 0) {
        const b = buf[i++];
        if (b === NL) {
          this.size = this.sizeAcc;
          this.sizeAcc = 0;
          if (this.size === 0) this.ended = true;
        } else if (b !== CR) {
          this.sizeAcc = this.sizeAcc * 16 + (b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x57);
        }
        continue;
      }
      const end = i + Math.min(this.size, n - i);
      for (let j = buf.indexOf(NL, i); j >= 0 && j < end; j = buf.indexOf(NL, j + 1)) this.lines++;
      this.size -= end - i;
      i = end;
      if (this.size === 0) {
        this.size = -1;
        this.skip = 2;
      }
    }
  }
}

function oneRawStream(url: URL, tokens: number, index: number): Promise<StreamResult> {
  const arrivals = new Float64Array(tokens + 2);
  // The last two reads are enough to hold the done line (no `context`: the request is raw).
  let prev: Buffer | undefined;
  let last: Buffer | undefined;
  return new Promise<StreamResult>((resolve) => {
    let head: Buffer | undefined;
    let status = 0;
    const counter = new ChunkedLineCounter();
    let settled = false;
    const finish = (error?: string): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      const text = Buffer.concat([prev ?? Buffer.alloc(0), last ?? Buffer.alloc(0)]).toString('utf8');
      const lines = text.split('\n').filter((l) => l.startsWith('{'));
      const count = Math.min(counter.lines, arrivals.length) - 1;
      if (error || status !== 200) {
        resolve({ arrivals, count: 0, evalCount: 0, evalDurationNs: 0, doneReason: '', error: error ?? `${status} ${text.slice(0, 200)}` });
        return;
      }
      const done = JSON.parse(lines[lines.length - 1]) as { eval_count?: number; eval_duration?: number; done_reason?: string; error?: string };
      resolve({ arrivals, count, evalCount: done.eval_count ?? 0, evalDurationNs: done.eval_duration ?? 0, doneReason: done.done_reason ?? '', error: done.error });
    };
    const body = JSON.stringify({ model: 'bench-model:1b', prompt: `stream ${index}: tell me something`, raw: true, options: { num_predict: tokens } });
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.setNoDelay(true);
      socket.write(`POST /api/generate HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    });
    socket.on('data', (buf: Buffer) => {
      const now = performance.now();
      let from = 0;
      if (status === 0) {
        head = head ? Buffer.concat([head, buf]) : buf;
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        status = Number(head.subarray(9, 12).toString());
        buf = head;
        from = end + 4;
      }
      const before = counter.lines;
      counter.push(buf, from);
      for (let k = before; k < counter.lines && k < arrivals.length; k++) arrivals[k] = now;
      prev = last;
      last = from > 0 ? buf.subarray(from) : buf;
      if (counter.ended) finish();
    });
    socket.on('error', (e) => finish(e.message));
    socket.on('close', () => finish('connection closed before the end of the stream'));
  });
}

/** Same contract as `runLoad`, over raw sockets. */
export async function runRawLoad(opts: LoadOptions): Promise<{ results: StreamResult[]; startMs: number; endMs: number }> {
  const urls = opts.urls.map((u) => new URL(u));
  const startMs = performance.now();
  const results = await Promise.all(
    Array.from({ length: opts.streams }, async (_, i) => {
      await new Promise((r) => setTimeout(r, (i * opts.rampMs) / opts.streams));
      return oneRawStream(urls[i % urls.length], opts.tokens, i);
    }),
  );
  return { results, startMs, endMs: performance.now() };
}

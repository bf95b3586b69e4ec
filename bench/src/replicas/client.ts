/**
 * The benchmark's client: each request of the trace goes to the next replica in turn (round-robin,
 * as a plain HTTP load balancer would spread them), and when its connection drops before the first
 * byte (a replica killed, one not listening) it is sent again to the next replica. A request that
 * had started streaming and then lost its replica counts as failed.
 */
import { request } from 'undici';
import type { TraceRequest } from '../scheduling/trace';

export interface ClientRecord {
  id: number;
  startMs: number;
  firstByteMs?: number;
  endMs?: number;
  ok: boolean;
  /** The HTTP status of the last send that got an answer (a stream cut later keeps its 200). */
  status?: number;
  /** Sends after the first (connections dropped before a byte). */
  retries: number;
  error?: string;
}

/** Round-robin over `urls()` (read at every send, so a dead replica can be taken out). */
export class RoundRobinClient {
  private next = 0;

  constructor(private readonly urls: () => readonly string[]) {}

  async send(r: TraceRequest, clock: () => number): Promise<ClientRecord> {
    const rec: ClientRecord = { id: r.id, startMs: clock(), ok: false, retries: 0 };
    const options: Record<string, unknown> = { num_predict: r.numPredict };
    if (r.numCtx !== undefined) options.num_ctx = r.numCtx;
    const body = JSON.stringify(
      r.chat ? { model: r.model, messages: [{ role: 'user', content: r.prompt }], stream: r.stream, options } : { model: r.model, prompt: r.prompt, stream: r.stream, options },
    );
    for (let attempt = 0; attempt < 10; attempt++) {
      const all = this.urls();
      const url = all[this.next++ % all.length];
      let gotByte = false;
      try {
        const res = await request(`${url}${r.chat ? '/api/chat' : '/api/generate'}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        rec.status = res.statusCode;
        // A non-streamed generate ends with its `context` array, after `"done":true`: so the marker is
        // looked for in every chunk (with the previous one's tail, in case it is split), not at the end.
        let tail = '';
        let done = false;
        for await (const chunk of res.body) {
          if (!gotByte) {
            gotByte = true;
            rec.firstByteMs = clock();
          }
          const text = tail + (chunk as Buffer).toString();
          done ||= text.includes('"done":true');
          tail = text.slice(-200);
        }
        rec.endMs = clock();
        rec.ok = res.statusCode === 200 && done;
        if (!rec.ok) rec.error = `${res.statusCode} ${tail}`;
        return rec;
      } catch (e) {
        if (gotByte) {
          rec.endMs = clock();
          rec.error = (e as Error).message;
          return rec;
        }
        rec.retries++;
      }
    }
    rec.endMs = clock();
    rec.error = 'no replica took the request';
    return rec;
  }
}

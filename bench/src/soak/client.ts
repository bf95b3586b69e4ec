/**
 * One request of the soak, sent and read to its end, with how it ended: its status, its ends
 * (see workload.ts), its latency, and what it breaks, if anything. A request that is still going at
 * the bound is cut there and reported as waiting past it.
 */
import { errors, request, type Dispatcher } from 'undici';
import { countEnds, type Kind, type RequestSpec } from './workload';

/** The kind of end a request came to, for the figures. */
export type EndKind = 'ok' | 'http-4xx' | 'http-5xx' | 'in-band-error' | 'network-error' | 'client-abort' | 'past-bound';

export interface Outcome {
  kind: Kind;
  status: number;
  latencyMs: number;
  end: EndKind;
  /** The HTTP status or error code behind a failed end (e.g. `503`, `UND_ERR_SOCKET`). */
  detail?: string;
  /** What the request broke: no end, two ends, data after its end, a wait past the bound. */
  violation?: string;
}

export interface SendOptions {
  /** Past this the request is cut and counted as a violation (the configured bounds plus slack). */
  boundMs: number;
  /** Leave after the first chunk of the answer, as a client that gives up does. */
  abortAfterFirstChunk?: boolean;
}

/** Sends `spec` to `base` and reads the answer to its end. Never rejects. */
export async function send(dispatcher: Dispatcher, base: string, spec: RequestSpec, opts: SendOptions): Promise<Outcome> {
  const started = performance.now();
  const ac = new AbortController();
  let pastBound = false;
  const timer = setTimeout(() => {
    pastBound = true;
    ac.abort();
  }, opts.boundMs);
  const done = (o: Omit<Outcome, 'kind' | 'latencyMs'>): Outcome => {
    clearTimeout(timer);
    return { kind: spec.kind, latencyMs: performance.now() - started, ...o };
  };
  let status = 0;
  let text = '';
  let contentType = '';
  try {
    const res = await request(`${base}${spec.path}`, {
      dispatcher,
      method: 'POST',
      body: spec.body,
      headers: { 'content-type': 'application/json' },
      signal: ac.signal,
      // The bound is ours (the timer above); undici's own timeouts must not cut first.
      headersTimeout: opts.boundMs * 2,
      bodyTimeout: opts.boundMs * 2,
    });
    status = res.statusCode;
    contentType = String(res.headers['content-type'] ?? '');
    res.body.setEncoding('utf8');
    for await (const chunk of res.body) {
      text += chunk as string;
      if (opts.abortAfterFirstChunk && status === 200) {
        ac.abort();
        return done({ status, end: 'client-abort' });
      }
    }
  } catch (e) {
    if (pastBound) return done({ status, end: 'past-bound', violation: `still waiting after ${opts.boundMs} ms` });
    if (opts.abortAfterFirstChunk && ac.signal.aborted) return done({ status, end: 'client-abort' });
    // A reset or a close mid-answer is the answer's one error, unless an end came before it.
    const ends = countEnds(spec, status, contentType, text);
    const code = e instanceof errors.UndiciError ? e.code : ((e as { code?: string }).code ?? (e as Error).name);
    if (ends.count > 1) return done({ status, end: 'network-error', detail: code, violation: `${ends.count} ends, then ${code}` });
    return done({ status, end: 'network-error', detail: code });
  }
  const ends = countEnds(spec, status, contentType, text);
  const end: EndKind = status >= 500 ? 'http-5xx' : status >= 400 ? 'http-4xx' : ends.error !== undefined ? 'in-band-error' : 'ok';
  const detail = status >= 400 ? String(status) : ends.error;
  if (ends.count === 0) return done({ status, end, detail, violation: `no end (status ${status}, ${text.length} bytes: ${JSON.stringify(text.slice(-120))})` });
  if (ends.count > 1) return done({ status, end, detail, violation: `${ends.count} ends (${JSON.stringify(text.slice(-200))})` });
  if (ends.afterEnd) return done({ status, end, detail, violation: `data after the end (${JSON.stringify(text.slice(-200))})` });
  return done({ status, end, detail });
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeSnapshot } from '@ollama-ring/balancer';
import { LineSplitter, NDJSON_CONTENT_TYPE, errorText, ndjsonLine, inBandErrorOf, isModelNotFound, parseStreamLine, toJson } from '@ollama-ring/protocol';
import type { GatewayContext } from '../gateway-context';
import { sendError } from './errors';
import { type JsonObject, sendJson } from './route-util';
import { callSignal, ShutdownAbort } from './operations';
import { forwardable, NodeCallError, type TextResponse, upstreamFor } from './upstream';

/** Header naming the nodes a management call goes to: `X-Ollama-Ring-Nodes: gpu-1,gpu-2`. */
export const NODES_HEADER = 'x-ollama-ring-nodes';

/** How one node's part of a fanned-out call ended. */
export type NodeResult = { ok: true; status: number } | { ok: false; status: number; message: string };

/**
 * The nodes a management call goes to: those named by `X-Ollama-Ring-Nodes` (all must exist), or
 * else `fallback` of every node not known to be down. Admin-disabled and draining nodes are
 * included: taking a node out of routing is often exactly when one manages its models.
 *
 * @example const t = targetNodes(gw, req); if ('error' in t) return sendError(res, 400, t.error, 'ollama');
 */
export function targetNodes(gw: GatewayContext, req: IncomingMessage, prefer?: (n: NodeSnapshot) => boolean): { nodes: NodeSnapshot[] } | { error: string; status: number } {
  const all = gw.factory.getNodeRegistry().getAllNodes();
  const raw = req.headers[NODES_HEADER];
  const named = (Array.isArray(raw) ? raw.join(',') : (raw ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (named.length > 0) {
    const unknown = named.filter((id) => !all.some((n) => n.id === id));
    if (unknown.length > 0) return { status: 400, error: `unknown node${unknown.length > 1 ? 's' : ''} in ${NODES_HEADER}: ${unknown.join(', ')}` };
    return { nodes: all.filter((n) => named.includes(n.id)) };
  }
  const up = all.filter((n) => n.health !== 'UNHEALTHY');
  const preferred = prefer ? up.filter(prefer) : [];
  const nodes = preferred.length > 0 ? preferred : up;
  if (nodes.length === 0) return { status: 503, error: 'no node is up to send this to' };
  return { nodes };
}

/**
 * The status and message when no node succeeded: the nodes' common status and message when they
 * agree (a bad model name is a 400 from every node), else 502 with each node's reason.
 */
export function combinedFailure(failed: [string, { status: number; message: string }][]): { status: number; message: string } {
  const statuses = new Set(failed.map(([, r]) => r.status));
  const messages = new Set(failed.map(([, r]) => r.message));
  const status = statuses.size === 1 ? [...statuses][0] : 502;
  const message = messages.size === 1 && failed.length > 0 ? [...messages][0] : failed.map(([id, r]) => `${id}: ${r.message}`).join('; ');
  return { status: status >= 400 ? status : 502, message };
}

/**
 * The answers of a call sent to several nodes, sorted: 2xx, Ollama's model-not-found 404 (with its
 * body: the node had nothing to do), and failures, any other 404 among them (a route the node
 * lacks is no "nothing to do").
 */
export interface Tally {
  ok: string[];
  notFound: [string, string][];
  failed: [string, { status: number; message: string }][];
  /** Each node's result in a word or two (`success`, `not found`, `error: …`), for `ollama_ring.nodes`. */
  summary: Record<string, string>;
}

/**
 * Sorts the settled answers of `nodes` (in the same order) into a {@link Tally}.
 *
 * @example const t = tally(nodes, await Promise.allSettled(nodes.map((n) => up.text(n, call))));
 */
export function tally(nodes: readonly { id: string }[], answers: PromiseSettledResult<TextResponse>[], words: { ok?: (status: number) => string } = {}): Tally {
  const t: Tally = { ok: [], notFound: [], failed: [], summary: {} };
  answers.forEach((a, i) => {
    const id = nodes[i].id;
    if (a.status === 'rejected') {
      const e = a.reason instanceof NodeCallError ? a.reason : new NodeCallError(id, 502, String(a.reason));
      t.failed.push([id, { status: e.status, message: e.message }]);
      t.summary[id] = `error: ${e.message}`;
    } else if (a.value.status >= 200 && a.value.status < 300) {
      t.ok.push(id);
      t.summary[id] = words.ok?.(a.value.status) ?? 'success';
    } else if (isModelNotFound(a.value.status, a.value.text)) {
      t.notFound.push([id, a.value.text]);
      t.summary[id] = 'not found';
    } else {
      const message = errorText(a.value.text) || '(empty body)';
      t.failed.push([id, { status: a.value.status, message }]);
      t.summary[id] = `error: ${message}`;
    }
  });
  return t;
}

/**
 * Sends one non-streaming management call (`/api/delete`, `/api/copy`) to every target node at
 * once and answers for all of them:
 * - no failures: 200 when some node did it (`ollama_ring.nodes` says which, and which had nothing
 *   to do: 404), else the nodes' own 404 (Ollama's `model 'x' not found` text);
 * - failures only: the nodes' common status and message, else 502;
 * - a mix: 502 naming the nodes that failed, with every node's result.
 * `after` runs with the ids of the nodes that succeeded, before the answer is sent.
 */
export async function fanOutCall(
  gw: GatewayContext,
  req: IncomingMessage,
  res: ServerResponse,
  call: { method: 'POST' | 'DELETE'; path: string; body: JsonObject; nodes: NodeSnapshot[]; verb: string; after?: (ok: string[]) => Promise<void> },
): Promise<string[]> {
  const up = upstreamFor(gw);
  const payload = toJson(call.body);
  const answers = await Promise.allSettled(
    call.nodes.map((n) => up.text(n, { method: call.method, path: call.path, body: payload, headers: forwardable(req.headers), kind: 'op' })),
  );
  const { ok, notFound, failed, summary } = tally(call.nodes, answers);
  const ollama_ring = { nodes: summary };
  // Before answering, so that a client's next request already sees the change.
  if (ok.length > 0 && call.after) await call.after(ok);
  if (failed.length === 0 && ok.length > 0) {
    sendJson(res, 200, { status: 'success', ollama_ring });
  } else if (failed.length === 0) {
    const text = notFound[0]?.[1] ?? '';
    sendJson(res, 404, { error: errorText(text) || '(empty body)', ollama_ring });
  } else if (ok.length === 0 && notFound.length === 0) {
    const f = combinedFailure(failed);
    sendJson(res, f.status, { error: f.message, ollama_ring });
  } else {
    sendJson(res, 502, { error: `${call.verb} failed on ${failed.map(([id, r]) => `${id} (${r.message})`).join(', ')}`, ollama_ring });
  }
  return ok;
}

/**
 * Sends a progress-stream call (`/api/pull`, `/api/push`, `/api/create`) to every target node at once and
 * merges their NDJSON progress into one stream for the client:
 * - each node's line is passed on with its `status` prefixed by the node (`gpu-1: pulling manifest`)
 *   and `ollama_ring.node` added; every other field (`digest`, `total`, `completed`) is unchanged;
 * - a node's own `success` becomes `gpu-1: success`, and a node's failure a status line
 *   `gpu-1: error: …` with `ollama_ring.error`, so that the stream goes on for the others (the
 *   `ollama` client stops at the first `success` or `error` it sees);
 * - the final line comes when every node is done: `{"status":"success"}` when all succeeded, else
 *   `{"error":"pull failed on gpu-2 (…)"}`; either way with `ollama_ring.nodes` giving each node's result.
 * With `"stream": false` only that final object is sent (500 for the error). When no node starts at
 * all, the answer is their combined error with its status, before any stream.
 * Resolves with the ids of the nodes that succeeded.
 */
export async function fanOutProgress(
  gw: GatewayContext,
  req: IncomingMessage,
  res: ServerResponse,
  call: { path: '/api/pull' | '/api/push' | '/api/create'; body: JsonObject; nodes: NodeSnapshot[]; verb: string; after?: (ok: string[]) => Promise<void> },
): Promise<string[]> {
  const stream = call.body.stream !== false;
  const signal = callSignal(gw, res);
  const up = upstreamFor(gw);
  // Streamed from every node whatever the client asked: the merge needs the progress to judge the end.
  const payload = toJson({ ...call.body, stream: true });
  const heads = await Promise.allSettled(
    call.nodes.map((n) => up.stream(n, { method: 'POST', path: call.path, body: payload, headers: forwardable(req.headers), signal, kind: 'stream' })),
  );
  const results = new Map<string, NodeResult>();
  const started: [string, Awaited<ReturnType<typeof up.stream>>][] = [];
  for (const [i, h] of heads.entries()) {
    const id = call.nodes[i].id;
    if (h.status === 'rejected') {
      const e = h.reason instanceof NodeCallError ? h.reason : new NodeCallError(id, 502, String(h.reason));
      results.set(id, { ok: false, status: e.status, message: e.message });
    } else if (h.value.status < 200 || h.value.status >= 300) {
      results.set(id, { ok: false, status: h.value.status, message: errorText(await h.value.body.text().catch(() => '')) || '(empty body)' });
    } else started.push([id, h.value]);
  }
  if (started.length === 0) {
    const failed = [...results].filter((r): r is [string, Extract<NodeResult, { ok: false }>] => !r[1].ok);
    const f = combinedFailure(failed);
    sendError(res, f.status, f.message, 'ollama');
    return [];
  }

  const write = async (obj: JsonObject): Promise<void> => {
    if (!stream || res.destroyed) return;
    if (!res.write(ndjsonLine(obj))) await drained(res);
  };
  if (stream) {
    res.writeHead(200, { 'content-type': NDJSON_CONTENT_TYPE });
    // The client should see progress begin now, not with the first line of the slowest node.
    res.flushHeaders();
  }
  for (const [id, r] of results) if (!r.ok) await write(nodeError(id, r.message));

  await Promise.all(
    started.map(async ([id, r]) => {
      let outcome: NodeResult | undefined;
      const onLine = async (line: string): Promise<void> => {
        const obj = parseStreamLine(line);
        if (!obj) return; // not a progress object; Ollama sends none such
        const error = inBandErrorOf(obj);
        if (error !== undefined) {
          outcome = { ok: false, status: 500, message: error };
          await write(nodeError(id, error));
          return;
        }
        if (obj.status === 'success') outcome = { ok: true, status: 200 };
        await write({ ...obj, status: `${id}: ${String(obj.status ?? '')}`, ollama_ring: { node: id } });
      };
      const lines = new LineSplitter();
      try {
        for await (const chunk of r.body as AsyncIterable<Buffer>) {
          for (const line of lines.push(chunk)) await onLine(line);
        }
        await onLine(lines.end());
      } catch (e) {
        if (!outcome) {
          const message = signal.aborted ? abortMessage(signal) : `node ${id}: the stream broke: ${(e as Error).message}`;
          outcome = { ok: false, status: 502, message };
          await write(nodeError(id, message));
        }
      }
      if (!outcome) {
        outcome = { ok: false, status: 502, message: `node ${id}: the stream ended without success` };
        await write(nodeError(id, outcome.message));
      }
      results.set(id, outcome);
    }),
  );

  const ok = call.nodes.map((n) => n.id).filter((id) => results.get(id)?.ok);
  // Before the final line, so that a client's next request already sees the new models.
  if (ok.length > 0 && call.after) await call.after(ok);
  const reason = (id: string): string => {
    const r = results.get(id);
    return r && !r.ok ? r.message : 'no result';
  };
  const summary = Object.fromEntries(call.nodes.map((n) => [n.id, results.get(n.id)?.ok ? 'success' : `error: ${reason(n.id)}`]));
  const failed = call.nodes.filter((n) => !results.get(n.id)?.ok);
  const final: JsonObject =
    failed.length === 0
      ? { status: 'success', ollama_ring: { nodes: summary } }
      : { error: `${call.verb} failed on ${failed.map((n) => `${n.id} (${reason(n.id)})`).join(', ')}`, ollama_ring: { nodes: summary } };
  if (res.destroyed) return ok;
  if (stream) res.end(`${JSON.stringify(final)}\n`);
  else sendJson(res, failed.length === 0 ? 200 : 500, final);
  return ok;
}

function nodeError(id: string, message: string): JsonObject {
  return { status: `${id}: error: ${message}`, ollama_ring: { node: id, error: message } };
}

/** Why a call's signal fired, as a progress message. */
export function abortMessage(signal: AbortSignal): string {
  return signal.reason instanceof ShutdownAbort ? `aborted: ${signal.reason.message}` : 'aborted: the client went away';
}

/**
 * Resolves once `res` can take more (after a `write` returned false), or has closed: a slow client
 * slows the node's stream down instead of growing the gateway's buffers.
 *
 * @example if (!res.write(chunk)) await drained(res);
 */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

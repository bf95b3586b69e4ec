import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { NodeSnapshot } from '@ollama-ring/balancer';
import type { GatewayContext } from '../gateway-context';
import { sendError } from './errors';
import { combinedFailure, tally, targetNodes } from './fan-out';
import { callSignal } from './operations';
import { requireAdmin, sendJson } from './route-util';
import type { Router } from './router';
import { forwardable, upstreamFor } from './upstream';

/** Ollama's digest form (`GetBlobsPath`): `sha256:` or `sha256-`, then 64 hex digits. */
const DIGEST = /^sha256[:-][0-9a-fA-F]{64}$/;

/** Response headers of `HEAD /api/blobs/:digest`: which target nodes have the blob, and which do not. */
const BLOB_PRESENT_HEADER = 'x-ollama-ring-blob-present';
const BLOB_MISSING_HEADER = 'x-ollama-ring-blob-missing';

/**
 * `HEAD`/`POST /api/blobs/:digest`, the blob store `ollama create` uploads model files to before
 * it creates a model from them. Admin only, as `/api/create` is. The target nodes are those named
 * by `X-Ollama-Ring-Nodes`, else every node not known to be down, as for `/api/pull`: a model is
 * then created on each of them, so each needs the blob.
 * - `HEAD`: 200 when every target has the blob, else 404 (the client then uploads it);
 *   `X-Ollama-Ring-Blob-Present`/`-Missing` list the nodes (a node that does not answer is missing).
 * - `POST`: asks each target first (`HEAD`) and streams the body only to those that lack the blob,
 *   all at once: one read of the client's body, written to each node, paced by the slowest (no
 *   buffering beyond a stream's high-water mark per node; no size cap, the nodes check the digest).
 *   201 when some node stored it, 200 when every node had it already; a digest mismatch is the
 *   nodes' 400 `digest mismatch, …`; nodes that disagree give 502 naming the failures.
 *   `ollama_ring.nodes` says `created`, `exists` or the error per node. The upload, from the client
 *   and on to the nodes, must end within `server.blobUploadTimeoutMs`.
 * A digest not of the form `sha256:<64 hex>` is 400 `invalid digest format`, before any node is asked.
 *
 * @example new Gateway({ factory, routes: [addBlobRoutes] });
 */
export function addBlobRoutes(router: Router, gw: GatewayContext): void {
  const checked = (req: IncomingMessage, res: ServerResponse, digest: string): NodeSnapshot[] | undefined => {
    if (!requireAdmin(gw, req, res)) return undefined;
    if (!DIGEST.test(digest)) {
      sendError(res, 400, 'invalid digest format', 'ollama');
      return undefined;
    }
    const t = targetNodes(gw, req);
    if ('error' in t) {
      sendError(res, t.status, t.error, 'ollama', t.status === 503 ? 5 : undefined);
      return undefined;
    }
    return t.nodes;
  };

  router.add('HEAD', '/api/blobs/:digest', async ({ req, res, params }) => {
    const nodes = checked(req, res, params.digest);
    if (!nodes) return;
    const have = await presence(gw, req, nodes, params.digest);
    const present = nodes.filter((n) => have.get(n.id) === true).map((n) => n.id);
    const missing = nodes.filter((n) => have.get(n.id) !== true).map((n) => n.id);
    res.writeHead(missing.length === 0 ? 200 : 404, {
      'content-length': 0,
      [BLOB_PRESENT_HEADER]: present.join(','),
      [BLOB_MISSING_HEADER]: missing.join(','),
    });
    res.end();
  });

  router.add('POST', '/api/blobs/:digest', async ({ req, res, params }) => {
    const nodes = checked(req, res, params.digest);
    if (!nodes) {
      req.resume();
      return;
    }
    const have = await presence(gw, req, nodes, params.digest);
    const lacking = nodes.filter((n) => have.get(n.id) !== true);
    const summary: Record<string, string> = Object.fromEntries(nodes.filter((n) => have.get(n.id) === true).map((n) => [n.id, 'exists']));
    if (lacking.length === 0) {
      // Nothing to store: the body is not needed (read and dropped, never held).
      req.resume();
      sendJson(res, 200, { status: 'success', ollama_ring: { nodes: summary } });
      return;
    }
    const answers = await upload(gw, req, res, lacking, params.digest);
    // The upload outlived its deadline: the gateway has answered 408 and closed the connection.
    if (res.headersSent) return;
    const t = tally(lacking, answers, { ok: (status) => (status === 201 ? 'created' : 'exists') });
    Object.assign(summary, t.summary);
    const ollama_ring = { nodes: summary };
    if (t.failed.length === 0 && t.notFound.length === 0) {
      const created = answers.some((a) => a.status === 'fulfilled' && a.value.status === 201);
      sendJson(res, created ? 201 : 200, { status: 'success', ollama_ring });
    } else if (t.ok.length === 0 && t.notFound.length === 0 && lacking.length === nodes.length) {
      const f = combinedFailure(t.failed);
      sendJson(res, f.status, { error: f.message, ollama_ring });
    } else {
      const failed = [...t.failed, ...t.notFound.map(([id]) => [id, { message: 'not found' }] as const)];
      sendJson(res, 502, { error: `blob upload failed on ${failed.map(([id, r]) => `${id} (${r.message})`).join(', ')}`, ollama_ring });
    }
  });
}

/** Whether each node has the blob (`HEAD` on the node); a node that does not answer counts as not having it. */
async function presence(gw: GatewayContext, req: IncomingMessage, nodes: NodeSnapshot[], digest: string): Promise<Map<string, boolean>> {
  const up = upstreamFor(gw);
  const path = `/api/blobs/${encodeURIComponent(digest)}`;
  const answers = await Promise.allSettled(nodes.map((n) => up.text(n, { method: 'HEAD', path, headers: forwardable(req.headers), kind: 'meta' })));
  return new Map(
    nodes.map((n, i) => {
      const a = answers[i];
      return [n.id, a.status === 'fulfilled' && a.value.status === 200];
    }),
  );
}

/**
 * Streams the request body to every node in `nodes` at once. Each node reads from its own
 * PassThrough; the client's body is paused while any of them is full, and a node that answers (or
 * fails) early is let go so that it cannot stall the others.
 */
function upload(gw: GatewayContext, req: IncomingMessage, res: ServerResponse, nodes: NodeSnapshot[], digest: string) {
  const signal = callSignal(gw, res);
  const up = upstreamFor(gw);
  const headers = forwardable(req.headers);
  const length = req.headers['content-length'];
  if (length !== undefined) headers['content-length'] = length;
  const contentType = req.headers['content-type'] ?? 'application/octet-stream';
  const pipes = new Map<string, PassThrough>();
  const full = new Set<PassThrough>();
  const resumeIfFree = () => {
    if (full.size === 0 && req.isPaused()) req.resume();
  };
  const letGo = (id: string) => {
    const p = pipes.get(id);
    if (!p) return;
    pipes.delete(id);
    full.delete(p);
    if (!p.writableEnded) p.destroy();
    resumeIfFree();
  };
  const calls = nodes.map((n) => {
    const body = new PassThrough();
    pipes.set(n.id, body);
    body.on('drain', () => {
      full.delete(body);
      resumeIfFree();
    });
    body.on('error', () => undefined);
    return up.text(n, { method: 'POST', path: `/api/blobs/${encodeURIComponent(digest)}`, body, contentType, headers, signal, kind: 'upload' }).finally(() => letGo(n.id));
  });
  req.on('data', (chunk: Buffer) => {
    for (const p of pipes.values()) if (!p.write(chunk)) full.add(p);
    if (full.size > 0) req.pause();
  });
  req.on('end', () => {
    for (const p of pipes.values()) p.end();
  });
  const broken = () => {
    if (req.readableEnded) return;
    for (const p of pipes.values()) p.destroy(new Error('the client stopped sending the blob'));
  };
  req.on('aborted', broken);
  req.on('error', broken);
  req.on('close', broken);
  return Promise.allSettled(calls);
}

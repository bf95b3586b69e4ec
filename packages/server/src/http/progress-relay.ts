import type { IncomingMessage, ServerResponse } from 'node:http';
import { streamErrorLine, toJson } from '@ollama-ring/protocol';
import type { GatewayContext } from '../gateway-context';
import { sendError } from './errors';
import { abortMessage, drained } from './fan-out';
import { NODE_HEADER } from './http-sink';
import { callSignal } from './operations';
import type { JsonObject } from './route-util';
import { forwardable, type NodeAddress, NodeCallError, type StreamResponse, upstreamFor } from './upstream';

/**
 * Relays one node's answer to a progress-stream call (`/api/push` from the node that holds the
 * model) to the client unchanged: its status, headers and NDJSON lines as they come (or its single
 * JSON object with `"stream": false`), with `X-Ollama-Ring-Node` added. A slow client slows the
 * node down; a client that goes away aborts the call on the node.
 * - The node cannot be reached: its error (502, 504 for a timeout) in Ollama's shape.
 * - The stream breaks, or the gateway's grace period ends (see `Gateway.close()`): one final
 *   in-band `{"error":…}` line, as Ollama reports a failure after the stream began.
 *
 * @example await relayProgress(gw, req, res, node, { path: '/api/push', body });
 */
export async function relayProgress(gw: GatewayContext, req: IncomingMessage, res: ServerResponse, node: NodeAddress, call: { path: string; body: JsonObject }): Promise<void> {
  const signal = callSignal(gw, res);
  let r: StreamResponse;
  try {
    r = await upstreamFor(gw).stream(node, { method: 'POST', path: call.path, body: toJson(call.body), headers: forwardable(req.headers), signal, kind: 'stream' });
  } catch (e) {
    if (res.destroyed) return;
    if (signal.aborted) return sendError(res, 503, abortMessage(signal), 'ollama', 5);
    const err = e instanceof NodeCallError ? e : new NodeCallError(node.id, 502, String(e));
    return sendError(res, err.status, err.message, 'ollama');
  }
  res.setHeader(NODE_HEADER, node.id);
  res.writeHead(r.status, r.headers);
  // The client should see that the call began before the node's first progress line.
  res.flushHeaders();
  let endsLine = true;
  try {
    for await (const chunk of r.body as AsyncIterable<Buffer>) {
      if (res.destroyed) break;
      endsLine = chunk[chunk.length - 1] === 0x0a;
      if (!res.write(chunk)) await drained(res);
    }
  } catch (e) {
    if (res.destroyed) return;
    const message = signal.aborted ? abortMessage(signal) : `node ${node.id}: the stream broke: ${(e as Error).message}`;
    if (!String(r.headers['content-type'] ?? '').includes('ndjson')) {
      res.destroy();
      return;
    }
    res.end(`${endsLine ? '' : '\n'}${streamErrorLine('ollama', message)}`);
    return;
  }
  if (!res.destroyed) res.end();
}

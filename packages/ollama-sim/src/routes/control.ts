/**
 * The `/_sim/...` control API: read a node's state, change its faults, make it refuse connections,
 * reset it. Every node also reaches its pool peers through `/_sim/nodes/{id}/...`, which is how a
 * node that refuses connections is brought back over HTTP.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SimFaults } from '../config-types';
import { checkFaults } from '../config';
import type { FaultPatch } from '../faults';
import { readBody, sendJson } from '../http-util';

/** One loaded model as `/_sim/state` reports it. */
export interface SimLoadedModelState {
  model: string;
  state: 'loading' | 'ready' | 'unloading' | 'gone';
  /** Requests holding the runner (running or waiting for a slot). */
  refCount: number;
  slotsInUse: number;
  slotWaiters: number;
  contextLength: number;
  expiresAt: string;
}

/** A node's state, as `/_sim/state` and `SimNode.state()` return it. */
export interface SimNodeState {
  id: string;
  url: string;
  listening: boolean;
  /** HTTP requests being handled now (control API excluded). */
  inFlight: number;
  /** Inference requests being handled now: what a balancer's slots for this node count. */
  inferenceInFlight: number;
  /** The highest `inferenceInFlight` since start or the last stats reset. */
  peakInferenceInFlight: number;
  /** Cold-load requests waiting in the pending queue. */
  queued: number;
  loaded: SimLoadedModelState[];
  /** Installed models (display names). */
  models: string[];
  requests: number;
  byRoute: Record<string, number>;
  byStatus: Record<string, number>;
  completed: number;
  cancelled: number;
  tokens: number;
  loadsStarted: number;
  evictions: number;
  faults: SimFaults;
  faultsInjected: Record<string, number>;
}

/** What a reset clears; everything when nothing is given. */
export interface SimResetOptions {
  faults?: boolean;
  models?: boolean;
  stats?: boolean;
}

/** What the control API needs from a node. */
export interface ControlTarget {
  readonly id: string;
  state(): SimNodeState;
  faults(): SimFaults;
  setFaults(patch: FaultPatch): SimFaults;
  clearFaults(): void;
  refuse(forMs?: number): void;
  accept(): Promise<void>;
  reset(options?: SimResetOptions): void;
}

function jsonBody(buf: Buffer): Record<string, unknown> {
  if (buf.length === 0) return {};
  const v: unknown = JSON.parse(buf.toString('utf8'));
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('body must be a JSON object');
  return v as Record<string, unknown>;
}

/** Handles `/_sim/...` for `self`, reaching peers by id. Returns after the response is sent. */
export async function handleControl(self: ControlTarget, peers: () => readonly ControlTarget[], req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const method = req.method ?? 'GET';
  let target = self;
  let rest = path.slice('/_sim'.length) || '/';
  const peer = /^\/nodes\/([^/]+)(\/.*)?$/.exec(rest);
  if (peer) {
    const found = peers().find((p) => p.id === decodeURIComponent(peer[1]));
    if (!found) return sendJson(res, 404, { error: `no node '${peer[1]}' in this pool` });
    target = found;
    rest = peer[2] ?? '/state';
  }
  let body: Record<string, unknown>;
  try {
    body = jsonBody(await readBody(req));
  } catch (e) {
    return sendJson(res, 400, { error: `invalid JSON body: ${(e as Error).message}` });
  }
  const route = `${method} ${rest}`;
  switch (route) {
    case 'GET /state':
      return sendJson(res, 200, target.state());
    case 'GET /pool':
      return sendJson(res, 200, { nodes: peers().map((p) => p.state()) });
    case 'GET /faults':
      return sendJson(res, 200, target.faults());
    case 'POST /faults':
    case 'PATCH /faults': {
      // null clears a fault; check the rest against the same schema as the config file.
      const patch = Object.fromEntries(Object.entries(body).filter(([, v]) => v !== null));
      const problems = checkFaults(patch);
      if (problems.length > 0) return sendJson(res, 400, { error: problems.join('; ') });
      const refuse = (body as SimFaults).refuse;
      const next = target.setFaults({ ...body, refuse: undefined } as FaultPatch);
      if (refuse) {
        // Answer first: once the node refuses, this response could not be delivered by it.
        sendJson(res, 200, next);
        target.refuse(refuse.forMs);
        return;
      }
      return sendJson(res, 200, next);
    }
    case 'DELETE /faults':
      target.clearFaults();
      return sendJson(res, 200, target.faults());
    case 'POST /refuse': {
      const forMs = body.forMs;
      if (forMs !== undefined && (typeof forMs !== 'number' || forMs < 0)) {
        return sendJson(res, 400, { error: 'forMs must be a non-negative number' });
      }
      sendJson(res, 200, { refusing: true, forMs: forMs ?? null });
      target.refuse(forMs as number | undefined);
      return;
    }
    case 'POST /accept':
      await target.accept();
      return sendJson(res, 200, { listening: true });
    case 'POST /reset':
      target.reset({
        faults: body.faults !== false,
        models: body.models !== false,
        stats: body.stats !== false,
      });
      return sendJson(res, 200, target.state());
    default:
      return sendJson(res, 404, { error: `unknown control route ${route}` });
  }
}

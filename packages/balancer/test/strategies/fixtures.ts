// Builders shared by the strategy tables: real PoolNodes and Estimates, a stub RoutingContext.
import { PoolNode, type NodeSpec } from '../../src/nodes/node';
import type { ResourceSignals } from '../../src/nodes/resource-signals';
import { Estimates } from '../../src/scheduler/estimates';
import type { RoutingContext, RoutingRequest } from '../../src/strategies/strategy';

export const NOW = 1_000_000;
export const MODEL = 'llama3.2:latest';

export interface NodeSetup {
  slots?: number;
  inFlight?: number;
  weight?: number;
  priority?: number;
  perModel?: Record<string, number>;
  /** Loaded (model → signature, null = only /api/ps knows it); expires an hour from NOW. */
  hot?: Record<string, string | null>;
  /** Loaded but already expired at NOW. */
  expired?: string[];
  /** The node's maxLoadedModels (configured). */
  maxLoaded?: number;
  /** Recent bindings per model (the recent-use shares eviction is priced by). */
  uses?: Record<string, number>;
  /** In-flight requests per model, on top of `inFlight` (which counts MODEL). */
  busyModels?: Record<string, number>;
  /** Loads we sent are done at this epoch ms. */
  loadingUntil?: number;
  /** A hot model still loading until this epoch ms. */
  readyAt?: Record<string, number>;
  /** Resource signals from the node's exporter, scraped a second before NOW and fresh for a minute. */
  resources?: ResourceSignals;
  /** Like `resources`, but already stale at NOW. */
  staleResources?: ResourceSignals;
}

export function node(id: string, s: NodeSetup = {}): PoolNode {
  const spec: NodeSpec = {
    id,
    url: `http://${id}:11434`,
    models: [],
    maxConcurrentRequests: s.slots ?? 4,
    maxConcurrentPerModel: s.perModel,
    weight: s.weight ?? 1,
    enabled: true,
    tags: [],
    priority: s.priority ?? 0,
    ...(s.maxLoaded !== undefined && { maxLoadedModels: s.maxLoaded }),
  };
  const n = new PoolNode(spec, { failureThreshold: 5, recoveryMs: 1000, halfOpenRequests: 1 });
  n.health = 'HEALTHY';
  n.inFlight = s.inFlight ?? 0;
  if (n.inFlight > 0) n.inFlightByModel.set(MODEL, n.inFlight);
  for (const [model, sig] of Object.entries(s.hot ?? {})) {
    n.loaded.set(model, { model, optionsSignature: sig, expiresAt: NOW + 3_600_000 });
  }
  for (const model of s.expired ?? []) n.loaded.set(model, { model, optionsSignature: '', expiresAt: NOW - 1 });
  for (const [model, busy] of Object.entries(s.busyModels ?? {})) {
    n.inFlight += busy;
    n.inFlightByModel.set(model, busy);
  }
  for (const [model, times] of Object.entries(s.uses ?? {})) for (let i = 0; i < times; i++) n.residency.noteBinding(model);
  for (const [model, at] of Object.entries(s.readyAt ?? {})) n.loaded.get(model)!.readyAt = at;
  n.residency.loadingUntil = s.loadingUntil ?? 0;
  if (s.resources) n.resourceSample = { ...s.resources, scrapedAt: NOW - 1_000, staleAt: NOW + 60_000 };
  if (s.staleResources) n.resourceSample = { ...s.staleResources, scrapedAt: NOW - 120_000, staleAt: NOW - 1 };
  return n;
}

export function request(r: Partial<RoutingRequest> = {}): RoutingRequest {
  return { model: MODEL, optionsSignature: '', promptTokens: 100, requiredTags: [], priority: 0, ...r };
}

export interface CtxSetup {
  estimates?: Estimates;
  /** Expected slot wait per busy node id; a full node not listed waits 1 000 ms. */
  waits?: Record<string, number>;
  /** Requests queued for each node's resident models (`waitingFor`); absent = the context has none. */
  waiting?: Record<string, number>;
  now?: number;
}

export function context(c: CtxSetup = {}): RoutingContext {
  const waits = c.waits ?? {};
  return {
    now: c.now ?? NOW,
    estimates: c.estimates ?? new Estimates(),
    expectedSlotWaitMs: (n, model) => (n.freeSlots(model) > 0 ? 0 : (waits[n.id] ?? 1_000)),
    ...(c.waiting && { waitingFor: (n: PoolNode) => c.waiting![n.id] ?? 0 }),
  };
}

/** Teaches `est` that `nodeId` answers in `latencyMs`, `times` times. */
export function observe(est: Estimates, nodeId: string, latencyMs: number, times = 1, model = MODEL): void {
  for (let i = 0; i < times; i++) {
    est.recordCompletion(nodeId, model, undefined, { ttftMs: latencyMs / 4, latencyMs });
  }
}

/** Teaches `est` a real load of `loadMs` and a prefill speed of `prefillTps` on `nodeId`. */
export function observeChunk(est: Estimates, nodeId: string, loadMs: number, prefillTps: number, model = MODEL): void {
  est.recordCompletion(
    nodeId,
    model,
    { loadMs, promptTokens: 1000, promptEvalMs: (1000 / prefillTps) * 1000, evalTokens: 100, evalMs: 2000, totalMs: loadMs + 4000 },
    { ttftMs: loadMs + 100, latencyMs: loadMs + 4000 },
  );
}

export const ids = (picks: ReadonlyArray<{ id: string } | null>): string => picks.map((p) => p?.id ?? '-').join(' ');

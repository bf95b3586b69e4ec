import type { Route } from '@ollama-ring/protocol';
import { type NodeSnapshot, snapshotNode } from '../nodes/node-snapshot';
import type { NodeAddress } from '../nodes/node-tls';
import type { MonitorTarget } from '../nodes/health-monitor';
import type { NodeUsage } from '../nodes/slot-usage';
import type { RequestClass } from '../request-class';
import type { LeaseCounts } from './leases';
import type { PoolState } from './pool-state';

/** A request in the wait queue, as a snapshot shows it. */
export interface WaitingRequest {
  readonly id: number;
  readonly model: string;
  readonly route: Route;
  readonly priority: number;
  readonly requestClass: RequestClass;
  /** Epoch ms when it first entered the queue. */
  readonly queuedAt: number;
  /** Epoch ms by which it must have a slot (`queue.maxWaitMs` after it first queued); Infinity for none. */
  readonly deadline: number;
}

/** One held slot. */
export interface HeldSlot {
  readonly nodeId: string;
  readonly requestId: number;
  readonly model: string;
  /** Epoch ms when it was bound. */
  readonly since: number;
}

/** What the scheduler has learned of one model on one node (NaN for what it has not seen yet). */
export interface ModelEstimate {
  readonly loadMs: number;
  readonly prefillTps: number;
  readonly generateTps: number;
  readonly serviceMs: number;
}

/** What the scheduler has learned of one node's speed. */
export interface NodeEstimate {
  /** Completed requests it has learned from. */
  readonly samples: number;
  /** Mean whole-request latency (ms), 0 before any sample. */
  readonly latencyMs: number;
  readonly successRate: number;
  /** Per model served there. */
  readonly models: Readonly<Record<string, ModelEstimate>>;
}

/**
 * A read-only copy of the pool as the scheduler holds it, taken at `at`: nodes (with their breakers
 * and resident models), held slots, the wait queue, learned estimates and the live request count.
 * The one way to read scheduler state from outside the scheduler (status routes, admin, the CLI,
 * the demo); it is a copy, so holding it never sees, or blocks, later changes.
 */
export interface PoolView {
  readonly at: number;
  /** The pool's strategy. */
  readonly strategy: string;
  /** Requests admitted and not yet ended (queued, in backoff, or in flight). */
  readonly live: number;
  /** Every node, including removed ones still finishing their requests (`removed: true`). */
  readonly nodes: readonly NodeSnapshot[];
  readonly slots: readonly HeldSlot[];
  readonly queue: { readonly depth: number; readonly byModel: Readonly<Record<string, number>>; readonly waiting: readonly WaitingRequest[] };
  readonly estimates: Readonly<Record<string, NodeEstimate>>;
  /** Each node's utilization (busy over capacity slot time) at `at`, since it joined and over the last minute. */
  readonly usage: Readonly<Record<string, NodeUsage>>;
  /** Ids of the nodes the config (at start or the last reload) defines; every other node was added at run time. */
  readonly configuredNodeIds: readonly string[];
  /** Leases (`pipeline.select`) holding a slot now, and those taken back at their TTL since start. */
  readonly leases: LeaseCounts;
  /** Requests waiting in the queue and holding a slot (leases included), by class. */
  readonly classes: ClassCounts;
  /** Requests bound since start, by API key name (`anonymous`: no key; `other`: a client key that is no configured API key). */
  readonly fairShare: Readonly<Record<string, number>>;
}

/** Requests by class, waiting and running. */
export interface ClassCounts {
  readonly queued: Readonly<Record<RequestClass, number>>;
  readonly running: Readonly<Record<RequestClass, number>>;
  /** Batch lines cut since start to free their slots for interactive requests (see `Preemption`). */
  readonly preempted: number;
}

/**
 * Whether a node that could take a request for `model` now (routable, has the model, a slot free for
 * it) exists: what the embedding coalescer asks at each window's end, without building a view.
 */
export function hasFreeSlotFor(s: Pick<PoolState, 'nodes' | 'now'>, model: string): boolean {
  const now = s.now();
  for (const n of s.nodes.values()) if (!n.removed && n.freeSlots(model) > 0 && n.isRoutable(now) && n.hasModel(model)) return true;
  return false;
}

/** Just the nodes of a view: what the node registry and `/health` read, without the queue and slots. */
export function viewNodes(s: Pick<PoolState, 'nodes' | 'now'>): NodeSnapshot[] {
  const now = s.now();
  return [...s.nodes.values()].map((n) => snapshotNode(n, now));
}

/**
 * What health checks, discovery and resource scrapes probe: every node not removed, with its URL
 * (and its exporter's) as configured, credentials included (snapshots mask them).
 */
export function probeTargets(s: Pick<PoolState, 'nodes'>): MonitorTarget[] {
  return [...s.nodes.values()]
    .filter((n) => !n.removed)
    .map((n) => ({ id: n.id, url: n.url, ...(n.spec.metricsUrl !== undefined && { metricsUrl: n.spec.metricsUrl }), ...(n.spec.tls !== undefined && { tls: n.spec.tls }) }));
}

/** How node `id` is called (its URL's origin, prefix and credentials, and its TLS files); undefined once it is removed. */
export function nodeAddress(s: Pick<PoolState, 'nodes'>, id: string): NodeAddress | undefined {
  const n = s.nodes.get(id);
  if (!n || n.removed) return undefined;
  return n.spec.tls ? { ...n.address, tls: n.spec.tls } : n.address;
}

/** Takes a view of the scheduler's state (inside this folder only: everyone else gets the copy). */
export function viewPool(
  s: PoolState & {
    liveCount(): number;
    configuredNodeIds(): ReadonlySet<string>;
    leaseCounts(): LeaseCounts;
    running(): { running: Record<RequestClass, number>; preempted: number };
    keys: { servedCounts(): Record<string, number> };
  },
): PoolView {
  const nodes = [...s.nodes.values()];
  const at = s.now();
  const estimates: Record<string, NodeEstimate> = {};
  const usage: Record<string, NodeUsage> = {};
  const slots: HeldSlot[] = [];
  const byModel = s.estimates.snapshot();
  for (const n of nodes) {
    const samples = s.estimates.samples(n.id);
    estimates[n.id] = {
      samples,
      latencyMs: samples > 0 ? s.estimates.latencyMs(n.id) : 0,
      successRate: s.estimates.successRate(n.id),
      models: byModel[n.id] ?? {},
    };
    usage[n.id] = n.usage.read(at, n.inFlight, n.spec.maxConcurrentRequests);
    for (const h of s.slots.holders(n.id)) slots.push({ nodeId: n.id, requestId: h.requestId, model: h.model, since: h.startedAt });
  }
  const waiting = s.queue.inOrder().map((w) => ({
    id: w.requestId,
    model: w.model,
    route: w.ctx.route,
    priority: w.priority,
    requestClass: w.requestClass ?? 'interactive',
    queuedAt: w.ctx.queuedAt || w.arrivedAt,
    deadline: w.deadline,
  }));
  return {
    at,
    strategy: s.strategy.name,
    live: s.liveCount(),
    nodes: viewNodes(s),
    slots,
    queue: { depth: s.queue.size, byModel: Object.fromEntries(s.queue.depthByModel()), waiting },
    estimates,
    usage,
    configuredNodeIds: [...s.configuredNodeIds()],
    leases: s.leaseCounts(),
    classes: { queued: { interactive: s.queue.sizeOf('interactive'), batch: s.queue.sizeOf('batch') }, ...s.running() },
    fairShare: s.keys.servedCounts(),
  };
}

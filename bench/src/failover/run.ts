import { BalancerError, InferenceRequest, PipelineFactory, defaultConfig, type BalancerConfig, type ResponseSink } from '@ollama-ring/balancer';
import { startSimPool, type SimPool } from '@ollama-ring/ollama-sim';
import { median } from '../common/stats';
import type { FaultCase } from './faults';

/** How one fault run is driven. */
export interface RunSettings {
  /** Load before the fault, so the balancer has learned the pool. */
  warmMs: number;
  /** Load with the fault in place. */
  faultMs: number;
  /** Open-loop arrivals per second, alternately streamed and not. */
  rate: number;
  /** Tokens each request generates (`num_predict`). */
  tokens: number;
  /** The balancer's fixed whole-request timeout (a non-streamed request on a stalled node waits for it). */
  requestTimeoutMs: number;
}

/** One request of the load, as the client saw it (ms on one monotonic clock). */
interface Sent {
  stream: boolean;
  sentAt: number;
  firstAt?: number;
  endAt?: number;
  node?: string;
  error?: string;
  started: boolean;
  /** Nodes it was bound to, with when. */
  routed: { node: string; at: number }[];
}

/** What one run measured, relative to the moment of the fault. */
export interface FaultRun {
  fault: string;
  /** ms from the fault to the faulty node's first failure (a retry off it, or a missed deadline). */
  firstMissMs: number | null;
  /** ms from that first signal to the node being out of rotation (breaker not closed, or marked down). */
  outAfterMissMs: number | null;
  /** ms from the fault to the first request bound to the faulty node that was then served by another. */
  servedElsewhereMs: number | null;
  /** Requests bound to the faulty node after the fault. */
  affected: number;
  /** Extra ms to the first byte of affected streams, beyond the median of streams before the fault. */
  streamExtraP50: number | null;
  streamExtraMax: number | null;
  /** Extra ms to the answer of affected non-streamed requests, beyond the median before the fault. */
  answerExtraP50: number | null;
  answerExtraMax: number | null;
  /** Affected requests that failed before any byte reached the client. */
  lost: number;
  /** Affected streams cut after their first byte (an in-band error, once). */
  cut: number;
  /** Share of requests the faulty node served before and during the fault. */
  shareBefore: number;
  shareDuring: number;
  /** Times the faulty node was suspected; its breaker at the end of the fault. */
  suspicions: number;
  breakerAtEnd: string;
  /** All requests of the run, and how many ended in an error. */
  total: number;
  errors: number;
}

/** A sign of trouble on a node, as the scheduler reported it. */
interface Signal {
  /** A retry off the node, a missed deadline, or an overdue answer (only a probe: not a miss). */
  kind: 'retry' | 'suspected' | 'overdue';
  node: string;
  at: number;
}

const MODEL = 'llama3.2';
const FAULTY = 'a';
const PROMPT = 'Summarise the following text in one line. '.repeat(6);

async function startPool(): Promise<SimPool> {
  return startSimPool({
    timeScale: 1,
    models: [{ name: MODEL, loadMs: 1_000 }],
    nodes: ['a', 'b', 'c'].map((id) => ({ id, models: [MODEL], numParallel: 2, preload: [MODEL], tokensPerSec: 50 })),
  });
}

function balancerConfig(sim: SimPool, s: RunSettings): BalancerConfig {
  const c = defaultConfig();
  c.nodes = sim.nodes.map((n) => ({ id: n.id, url: n.url, models: [], maxConcurrentRequests: 2, weight: 1, enabled: true, tags: [], priority: 0 }));
  c.timeouts.requestTimeoutMs = s.requestTimeoutMs;
  c.metrics.enabled = false;
  return c;
}

/** Runs the load against a fresh pool and balancer, with `fault` injected into node `a` after the warm-up. */
export async function runFault(fault: FaultCase, s: RunSettings): Promise<FaultRun> {
  const sim = await startPool();
  const sent = new Map<number, Sent>();
  const signals: Signal[] = [];
  const factory = await PipelineFactory.fromConfig(balancerConfig(sim, s), {
    observer: {
      routed: (e) => sent.get(e.requestId)?.routed.push({ node: e.nodeId, at: performance.now() }),
      retry: (node) => signals.push({ kind: 'retry', node, at: performance.now() }),
      suspected: (node, cause) => signals.push({ kind: cause === 'overdue' ? 'overdue' : 'suspected', node, at: performance.now() }),
    },
  }).start();
  const pipeline = factory.getPipeline();
  let faultAt = Infinity;
  let outAt: number | null = null;
  const poll = setInterval(() => {
    if (outAt !== null || performance.now() < faultAt) return;
    const n = factory.getNodeRegistry().getNode(FAULTY);
    // Half-open counts as out: the node gets only its trial requests, not its share.
    if (n && (n.breakerState !== 'closed' || n.health === 'UNHEALTHY')) outAt = performance.now();
  }, 5);
  const send = (stream: boolean): void => {
    const rec: Sent = { stream, sentAt: performance.now(), started: false, routed: [] };
    const sink: ResponseSink = {
      onStart: (info) => {
        rec.started = true;
        rec.node = info.nodeId;
      },
      onChunk: () => {
        rec.firstAt ??= performance.now();
      },
      onEnd: () => {
        rec.endAt = performance.now();
      },
      onError: (e: BalancerError) => {
        rec.endAt = performance.now();
        rec.error = e.code;
      },
    };
    try {
      const id = pipeline.execute(InferenceRequest.ofPrompt(MODEL, PROMPT, { stream, options: { num_predict: s.tokens } }), sink);
      sent.set(id, rec);
    } catch (e) {
      rec.endAt = rec.sentAt;
      rec.error = e instanceof BalancerError ? e.code : String(e);
      sent.set(-sent.size - 1, rec);
    }
  };
  try {
    const t0 = performance.now();
    const end = t0 + s.warmMs + s.faultMs;
    let i = 0;
    while (performance.now() < end) {
      const due = t0 + (i * 1000) / s.rate;
      if (due > performance.now()) await new Promise((r) => setTimeout(r, due - performance.now()));
      if (faultAt === Infinity && performance.now() >= t0 + s.warmMs) {
        fault.inject(sim.node(FAULTY));
        faultAt = performance.now();
      }
      send(i % 2 === 0);
      i++;
    }
    const breakerAtEnd = factory.getNodeRegistry().getNode(FAULTY)?.breakerState ?? 'gone';
    fault.clear(sim.node(FAULTY));
    const deadline = performance.now() + s.requestTimeoutMs + 5_000;
    while ([...sent.values()].some((r) => r.endAt === undefined) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return summarise(fault, [...sent.values()], signals, faultAt, outAt, breakerAtEnd);
  } finally {
    clearInterval(poll);
    await factory.stop(2_000);
    await sim.close();
  }
}

function summarise(fault: FaultCase, all: Sent[], signals: Signal[], faultAt: number, outAt: number | null, breakerAtEnd: string): FaultRun {
  const before = all.filter((r) => r.sentAt < faultAt && (r.endAt ?? Infinity) < faultAt && !r.error);
  const baseFirst = median(before.filter((r) => r.stream && r.firstAt !== undefined).map((r) => r.firstAt! - r.sentAt));
  const baseAnswer = median(before.filter((r) => !r.stream && r.endAt !== undefined).map((r) => r.endAt! - r.sentAt));
  const affected = all.filter((r) => r.routed.some((x) => x.node === FAULTY && x.at >= faultAt));
  const firstMiss = signals.find((x) => x.node === FAULTY && x.at >= faultAt && x.kind !== 'overdue')?.at;
  // Served: its first byte (a non-streamed answer's is its end) came from another node.
  const elsewhere = affected.filter((r) => !r.error && r.node !== undefined && r.node !== FAULTY && r.endAt !== undefined).map((r) => r.firstAt ?? r.endAt!);
  const streamExtra = affected.filter((r) => r.stream && r.firstAt !== undefined).map((r) => r.firstAt! - r.sentAt - baseFirst);
  const answerExtra = affected.filter((r) => !r.stream && !r.error && r.endAt !== undefined).map((r) => r.endAt! - r.sentAt - baseAnswer);
  const during = all.filter((r) => r.sentAt >= faultAt && r.node !== undefined);
  const share = (rs: Sent[]): number => (rs.length === 0 ? 0 : rs.filter((r) => r.node === FAULTY).length / rs.length);
  const max = (xs: number[]): number | null => (xs.length === 0 ? null : Math.max(...xs));
  const p50 = (xs: number[]): number | null => (xs.length === 0 ? null : median(xs));
  return {
    fault: fault.name,
    firstMissMs: firstMiss === undefined ? null : firstMiss - faultAt,
    outAfterMissMs: firstMiss === undefined || outAt === null ? null : Math.max(0, outAt - firstMiss),
    servedElsewhereMs: elsewhere.length === 0 ? null : Math.min(...elsewhere) - faultAt,
    affected: affected.length,
    streamExtraP50: p50(streamExtra),
    streamExtraMax: max(streamExtra),
    answerExtraP50: p50(answerExtra),
    answerExtraMax: max(answerExtra),
    lost: affected.filter((r) => r.error && !r.started).length,
    cut: affected.filter((r) => r.error && r.started).length,
    shareBefore: share(all.filter((r) => r.sentAt < faultAt && r.node !== undefined)),
    shareDuring: share(during),
    suspicions: signals.filter((x) => x.node === FAULTY && x.at >= faultAt && x.kind !== 'retry').length,
    breakerAtEnd,
    total: all.length,
    errors: all.filter((r) => r.error).length,
  };
}

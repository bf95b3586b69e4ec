import { type Route, isEmbeddingRoute } from '@ollama-ring/protocol';
import type { BalancerConfig, RouteClass } from '../config/types';
import type { RequestFacts } from '../stages/request-facts';
import type { DispatchTimeouts } from '../stages/dispatch-types';
import type { Estimates } from './estimates';

/**
 * The route class of an inference route, for `timeouts.routes`.
 *
 * @example routeClassOf(Route.OpenAIEmbeddings); // 'embeddings'
 */
export function routeClassOf(route: Route): RouteClass {
  return isEmbeddingRoute(route) ? 'embeddings' : 'chat';
}

/** The deadlines of one dispatch: the timeouts dispatch enforces, and when a non-streamed answer is overdue. */
export interface DispatchDeadlines {
  timeouts: DispatchTimeouts;
  /** Whether `firstByteMs` was learned (only a miss of a learned deadline makes the node suspect). */
  learnedFirstByte: boolean;
  /** Whether `idleMs` was learned. */
  learnedStall: boolean;
  /**
   * ms after dispatch at which a non-streamed answer is overdue: its node is then probed (not the
   * request cancelled: a long answer is not a hang). Infinity for streams and before anything was learned.
   */
  overdueMs: number;
}

/**
 * The deadlines of a request bound to `nodeId` (`cold`: its model is not resident there), `elapsedMs`
 * after it arrived, whose node is asked for a stream or not (`streamed`), on `route`. The fixed `timeouts` of the config (those of
 * the route's class in `timeouts.routes` where it sets them) bound everything; with `failover.adaptive`
 * and once the estimates know the model, a stream's first byte is due at `firstByteFactor` × the
 * expected first byte plus `firstByteMarginMs`, and each later chunk within `stallFactor` token gaps
 * (never under `minStallMs`).
 *
 * @example
 * const d = dispatchDeadlines(config, estimates, 'gpu-1', facts, false, 12);
 * d.timeouts.firstByteMs; // e.g. 2 × 180 + 500 = 860 once the model's first byte was learned
 */
export function dispatchDeadlines(
  cfg: BalancerConfig,
  est: Estimates,
  nodeId: string,
  facts: RequestFacts,
  cold: boolean,
  elapsedMs: number,
  /** The node is asked for a stream (the client's own, or one assembled for a non-streaming client). */
  streamed: boolean = facts.stream,
  /** The request's route: its class's own timeouts apply (none given: every route's). */
  route?: Route,
): DispatchDeadlines {
  const t = cfg.timeouts;
  const f = cfg.failover;
  const own = route === undefined ? undefined : t.routes[routeClassOf(route)];
  const requestTimeoutMs = own?.requestTimeoutMs ?? t.requestTimeoutMs;
  const idleTimeoutMs = own?.idleTimeoutMs ?? t.idleTimeoutMs;
  const totalMs = Math.max(1_000, requestTimeoutMs - elapsedMs);
  // A cold target sends nothing until the model has loaded: allow for the load we expect there.
  const coldAllowance = cold ? 2 * est.loadMs(nodeId, facts.model) : 0;
  const fixedFirstByte = Math.min(totalMs, (own?.firstByteTimeoutMs ?? t.firstByteTimeoutMs) + coldAllowance);
  if (!streamed) {
    // Ollama sends the headers of a non-streamed answer with the whole of it: no first-byte deadline.
    const service = f.adaptive ? est.expectedServiceMs(nodeId, facts.model, facts, cold) : undefined;
    const overdueMs = service === undefined ? Infinity : f.firstByteFactor * service + f.firstByteMarginMs;
    return { timeouts: { firstByteMs: totalMs, idleMs: idleTimeoutMs, totalMs }, learnedFirstByte: false, learnedStall: false, overdueMs };
  }
  // With tools, Ollama sends nothing while a tool call is being generated: a reply that opens with
  // one has no early first byte, and one mid-stream leaves a gap as long as the call.
  const learn = f.adaptive && !facts.tools;
  const expected = learn ? est.expectedFirstByteMs(nodeId, facts.model, facts.promptTokens, cold) : undefined;
  const gap = learn ? est.tokenGapMs(nodeId, facts.model) : undefined;
  const learnedFirstByteMs = expected === undefined ? Infinity : Math.ceil(f.firstByteFactor * expected + f.firstByteMarginMs);
  const learnedIdleMs = gap === undefined ? Infinity : Math.max(f.minStallMs, Math.ceil(f.stallFactor * gap));
  return {
    timeouts: { firstByteMs: Math.min(fixedFirstByte, learnedFirstByteMs), idleMs: Math.min(idleTimeoutMs, learnedIdleMs), totalMs },
    // Learned only where the learned deadline is the one that applies (not the fixed bound, nor the
    // request's own remaining time).
    learnedFirstByte: learnedFirstByteMs < fixedFirstByte,
    learnedStall: learnedIdleMs < idleTimeoutMs,
    overdueMs: Infinity,
  };
}

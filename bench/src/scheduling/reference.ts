/**
 * A reference for reading the results: what the trace gives when every model is hot on every node
 * that has it installed (no loads at all) and each request is placed, in arrival order, on the slot
 * where it would finish first, knowing every service time exactly. No strategy can do this (it needs
 * the future and ignores loads and the model limit), so it is optimistic: it shows how much of the
 * TTFT comes from the trace itself (the burst's backlog) rather than from scheduling.
 */
import { percentile } from '../common/stats';
import { NODES, TEMPLATE_TOKENS, nominalServiceMs } from './pool';
import type { Trace } from './trace';

export interface HotReference {
  ttftP50Ms: number;
  ttftP99Ms: number;
  /** Completions inside the burst window ÷ its length (req/s). */
  burstThroughputRps: number;
}

/**
 * Replays `trace` on the pool's slots (balancer-config.ts: numParallel per node) in unscaled ms,
 * each service time the nominal one × `slowdown` (the run's measured hot slot time ÷ nominal).
 */
export function hotReference(trace: Trace, slowdown = 1): HotReference {
  const slots = NODES.flatMap((n) => Array.from({ length: n.numParallel }, () => ({ node: n, freeAt: 0 })));
  const ttft: number[] = [];
  let inBurst = 0;
  const burstFrom = trace.steadyMs;
  const burstTo = trace.steadyMs + trace.burstMs;
  for (const r of trace.requests) {
    const prompt = r.promptTokens + (r.chat ? TEMPLATE_TOKENS.chat : TEMPLATE_TOKENS.generate);
    let best: { slot: (typeof slots)[number]; start: number; end: number } | undefined;
    for (const slot of slots) {
      if (!slot.node.models.includes(r.model)) continue;
      const start = Math.max(r.atMs, slot.freeAt);
      const end = start + nominalServiceMs(slot.node.id, r.model, prompt, r.numPredict) * slowdown;
      if (!best || end < best.end) best = { slot, start, end };
    }
    if (!best) throw new Error(`no node has ${r.model}`);
    best.slot.freeAt = best.end;
    ttft.push(best.start - r.atMs + nominalServiceMs(best.slot.node.id, r.model, prompt, 0) * slowdown);
    if (best.end >= burstFrom && best.end < burstTo) inBurst++;
  }
  return {
    ttftP50Ms: Math.round(percentile(ttft, 50)),
    ttftP99Ms: Math.round(percentile(ttft, 99)),
    burstThroughputRps: Math.round((inBurst / (trace.burstMs / 1000)) * 1000) / 1000,
  };
}

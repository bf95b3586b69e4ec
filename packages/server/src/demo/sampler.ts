/**
 * What the live view shows, read from the running parts: the balancer's node registry (in-flight,
 * slots, health, breaker) and wait queue, the simulated nodes' own state (resident models, tokens
 * generated, requests waiting inside "Ollama"), and the workload's counters.
 */
import type { PipelineFactory } from '@ollama-ring/balancer';
import type { SimPool } from '@ollama-ring/ollama-sim';
import type { Workload } from './workload';

export interface NodeView {
  id: string;
  health: string;
  breaker: string;
  inFlight: number;
  slots: number;
  /** Requests waiting inside the node (for a model load or a runner slot); unknown outside the demo. */
  waitingOnNode?: number;
  /** `disabled`, `draining` or `off` when the node is out of rotation (`on` or absent otherwise). */
  state?: string;
  hot: { model: string; loading: boolean }[];
  tokensPerSec: number;
  /** Requests it has answered in this run. */
  served: number;
}

export interface LiveSnapshot {
  elapsedMs: number;
  durationMs: number;
  url: string;
  strategy: string;
  nodes: NodeView[];
  /** Requests the balancer holds waiting for a slot, by model. */
  queue: { depth: number; byModel: [string, number][] };
  sent: number;
  ok: number;
  failed: number;
  inFlight: number;
  tokensPerSec: number;
  burst: boolean;
  /** `finishing`: no new requests, the last answers are arriving. */
  phase: 'running' | 'finishing' | 'done';
}

/** Token rates are averaged over about this long, so the numbers do not flicker. */
const RATE_WINDOW_MS = 1_000;

export class Sampler {
  private readonly started = performance.now();
  private readonly history: { at: number; tokens: Map<string, number> }[] = [];
  private readonly served = new Map<string, number>();
  private counted = 0;
  private ok = 0;
  private failed = 0;
  /** Set once every request has ended. */
  done = false;

  constructor(
    private readonly sim: SimPool,
    private readonly factory: PipelineFactory,
    private readonly workload: Workload,
    private readonly meta: { url: string; durationMs: number },
  ) {}

  sample(): LiveSnapshot {
    const now = performance.now();
    const simState = new Map(this.sim.state().map((s) => [s.id, s]));
    const tokens = new Map([...simState].map(([id, s]) => [id, s.tokens]));
    this.history.push({ at: now, tokens });
    while (this.history.length > 2 && now - this.history[1].at >= RATE_WINDOW_MS) this.history.shift();
    const oldest = this.history[0];
    const span = (now - oldest.at) / 1000;
    this.countResults();

    const nodes: NodeView[] = this.factory
      .getNodeRegistry()
      .getAllNodes()
      .map((n) => {
        const s = simState.get(n.id);
        const rate = s && span > 0 ? (s.tokens - (oldest.tokens.get(n.id) ?? s.tokens)) / span : 0;
        return {
          id: n.id,
          health: n.health,
          breaker: n.breakerState,
          inFlight: n.inFlight,
          slots: n.maxConcurrent,
          waitingOnNode: s ? s.queued + s.loaded.reduce((q, l) => q + l.slotWaiters, 0) : 0,
          hot: (s?.loaded ?? [])
            .filter((l) => l.state === 'ready' || l.state === 'loading')
            .map((l) => ({ model: l.model.replace(/:latest$/, ''), loading: l.state === 'loading' })),
          tokensPerSec: Math.max(0, rate),
          served: this.served.get(n.id) ?? 0,
        };
      });
    const view = this.factory.getPoolView();
    return {
      elapsedMs: now - this.started,
      durationMs: this.meta.durationMs,
      url: this.meta.url,
      strategy: view.strategy,
      nodes,
      queue: {
        depth: view.queue.depth,
        byModel: Object.entries(view.queue.byModel)
          .filter(([, n]) => n > 0)
          .sort((a, b) => b[1] - a[1]),
      },
      sent: this.workload.sent,
      ok: this.ok,
      failed: this.failed,
      inFlight: this.workload.inFlight,
      tokensPerSec: nodes.reduce((s, n) => s + n.tokensPerSec, 0),
      burst: this.workload.burstInFlight > 0,
      phase: this.done ? 'done' : this.workload.stopped ? 'finishing' : 'running',
    };
  }

  private countResults(): void {
    const rs = this.workload.results;
    for (; this.counted < rs.length; this.counted++) {
      const r = rs[this.counted];
      if (r.ok) this.ok++;
      else if (!r.cutOff) this.failed++;
      if (r.ok && r.node) this.served.set(r.node, (this.served.get(r.node) ?? 0) + 1);
    }
  }
}

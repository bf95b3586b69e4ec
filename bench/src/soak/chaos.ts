/**
 * The chaos of a soak run: faults on the emulated nodes (503s, refused connections, hangs, resets
 * mid-stream, slowness), config reloads, and admin changes (disable, drain, enable, strategy) under
 * load. Every disruption undoes itself after a while, and `calm()` undoes whatever is left, so a
 * run ends on a healthy pool whose in-flight counts can be checked.
 */
import { writeFileSync } from 'node:fs';
import type { BalancerConfig } from '@ollama-ring/balancer';
import type { SimPool } from '@ollama-ring/ollama-sim';

export type ChaosAction = 'fail-503' | 'refuse' | 'hang' | 'hang-mid-stream' | 'reset-mid-stream' | 'slow' | 'in-band-error' | 'disable' | 'drain' | 'strategy' | 'reload';

export interface ChaosOptions {
  sim: SimPool;
  gatewayUrl: string;
  /** The gateway's config file, rewritten before each reload; `base` is what it holds at the start. */
  configFile: string;
  base: BalancerConfig;
  rnd: () => number;
  /** Also inject in-band errors (`errorMidStream`): a stream must still end exactly once. */
  inBandErrors?: boolean;
}

const STRATEGIES = ['least-in-flight', 'round-robin', 'weighted-round-robin', 'random', 'predictive', 'model-aware', 'latency', 'performance'];

/** Writes `config` where the gateway's `loadConfig` reads it. */
export function writeConfig(file: string, config: BalancerConfig): void {
  writeFileSync(file, JSON.stringify(config));
}

export class Chaos {
  /** Actions taken, by name (figures for the report). */
  readonly counts: Partial<Record<ChaosAction, number>> = {};
  /** Admin calls that did not answer 2xx (a reload or command the gateway refused). */
  readonly adminFailures: string[] = [];
  private readonly undo = new Set<NodeJS.Timeout>();
  private readonly pending = new Set<Promise<void>>();
  /** Nodes an admin took out (disabled or draining), so that at least one always stays in. */
  private readonly out = new Set<string>();

  constructor(private readonly o: ChaosOptions) {}

  /** Takes one random action. */
  step(): void {
    const actions: ChaosAction[] = ['fail-503', 'refuse', 'hang', 'hang-mid-stream', 'reset-mid-stream', 'slow', 'disable', 'drain', 'strategy', 'reload'];
    if (this.o.inBandErrors) actions.push('in-band-error');
    const action = actions[Math.floor(this.o.rnd() * actions.length)];
    this.counts[action] = (this.counts[action] ?? 0) + 1;
    this.track(this.act(action));
  }

  /** Undoes every disruption now: faults cleared, nodes listening and enabled, the base config back. */
  async calm(): Promise<void> {
    for (const t of this.undo) clearTimeout(t);
    this.undo.clear();
    await Promise.all(this.pending);
    for (const n of this.o.sim.nodes) {
      n.clearFaults();
      await n.accept();
    }
    for (const id of this.o.base.nodes.map((n) => n.id)) await this.admin(`/admin/nodes/${id}/enable`);
    this.out.clear();
    writeConfig(this.o.configFile, this.o.base);
    await this.admin('/admin/reload');
  }

  private async act(action: ChaosAction): Promise<void> {
    const r = this.o.rnd;
    const node = this.o.sim.nodes[Math.floor(r() * this.o.sim.nodes.length)];
    const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
    switch (action) {
      case 'fail-503':
        node.setFaults({ failNext: { count: int(1, 6), status: 503 } });
        return;
      case 'refuse':
        node.refuse();
        this.later(int(200, 1_500), () => node.accept());
        return;
      case 'hang':
        node.setFaults({ hang: { count: int(1, 3) } });
        return;
      case 'hang-mid-stream':
        node.setFaults({ hang: { afterTokens: int(1, 4), count: int(1, 2) } });
        return;
      case 'reset-mid-stream':
        node.setFaults({ closeMidStream: { afterTokens: int(0, 4), count: int(1, 3) } });
        return;
      case 'slow':
        node.setFaults({ slowdown: int(3, 15) });
        this.later(int(300, 2_000), () => {
          node.setFaults({ slowdown: null });
        });
        return;
      case 'in-band-error':
        node.setFaults({ errorMidStream: { afterTokens: int(1, 4), count: 1 } });
        return;
      case 'disable':
      case 'drain': {
        const id = node.id;
        // Keep one node in: with every node out, every request is a 503 and the run measures nothing.
        if (this.out.has(id) || this.out.size >= this.o.base.nodes.length - 1) return;
        this.out.add(id);
        await this.admin(`/admin/nodes/${id}/${action}`);
        this.later(int(300, 2_000), async () => {
          await this.admin(`/admin/nodes/${id}/enable`);
          this.out.delete(id);
        });
        return;
      }
      case 'strategy':
        await this.admin('/admin/strategy', { strategy: STRATEGIES[Math.floor(r() * STRATEGIES.length)] });
        return;
      case 'reload': {
        // The same nodes and slots (the slot check stays exact), another strategy and other weights.
        const next: BalancerConfig = structuredClone(this.o.base);
        next.strategy = { type: STRATEGIES[Math.floor(r() * STRATEGIES.length)] };
        for (const n of next.nodes) n.weight = int(1, 4);
        writeConfig(this.o.configFile, next);
        await this.admin('/admin/reload');
        return;
      }
    }
  }

  private later(ms: number, fn: () => void | Promise<void>): void {
    const t = setTimeout(() => {
      this.undo.delete(t);
      this.track(Promise.resolve().then(fn));
    }, ms);
    this.undo.add(t);
  }

  private track(p: Promise<void>): void {
    const q = p.catch((e: unknown) => {
      this.adminFailures.push(String(e));
    });
    this.pending.add(q);
    void q.finally(() => this.pending.delete(q));
  }

  private async admin(path: string, body?: unknown): Promise<void> {
    const res = await fetch(`${this.o.gatewayUrl}${path}`, { method: 'POST', body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    if (res.status >= 300) this.adminFailures.push(`${path}: ${res.status} ${text.slice(0, 200)}`);
  }
}

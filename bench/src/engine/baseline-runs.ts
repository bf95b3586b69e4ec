import { join } from 'node:path';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import type { BaselineRole } from './baseline-thread';
import type { DoneMsg, LatencyMsg, ScenarioName, StartMsg } from './topology';

const entry = join(__dirname, 'baseline-thread.js');

/** A graph of baseline nodes: edges are MessageChannels; every node is a thread. */
class Graph {
  private readonly workers: Worker[] = [];
  readonly starts: StartMsg[] = [];
  readonly results: unknown[] = [];

  edge(): [MessagePort, MessagePort] {
    const c = new MessageChannel();
    return [c.port1, c.port2];
  }

  node(role: BaselineRole): void {
    const ports = [...('in' in role ? role.in : []), ...('out' in role ? role.out : [])];
    const w = new Worker(entry, { workerData: role, transferList: ports });
    w.on('message', (m: StartMsg | { endNs: number } | DoneMsg | LatencyMsg) => {
      if ('startNs' in m) this.starts.push(m);
      else if (!('endNs' in m)) this.results.push(m);
    });
    w.on('error', (e) => this.results.push({ error: e.message }));
    this.workers.push(w);
  }

  async waitFor(n: number): Promise<void> {
    while (this.results.length < n) await new Promise((r) => setTimeout(r, 1));
    const failed = this.results.find((r) => (r as { error?: string }).error);
    if (failed) throw new Error(`baseline node failed: ${(failed as { error: string }).error}`);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** The same topology as `runDisruptorScenario`, one postMessage per event per edge. Events per second. */
export async function runBaselineScenario(name: ScenarioName, events: number): Promise<number> {
  const g = new Graph();
  const producers = name === 'sequencer-3p1c' ? 3 : 1;
  const per = Math.floor(events / producers);
  const total = per * producers;
  let sinks = 1;
  try {
    switch (name) {
      case 'unicast-1p1c': {
        const [a, b] = g.edge();
        g.node({ role: 'sink', in: [b], expect: total });
        g.node({ role: 'producer', out: [a], count: total });
        break;
      }
      case 'sequencer-3p1c': {
        const edges = [g.edge(), g.edge(), g.edge()];
        g.node({ role: 'sink', in: edges.map((e) => e[1]), expect: total });
        for (const [a] of edges) g.node({ role: 'producer', out: [a], count: per });
        break;
      }
      case 'pipeline-1p3c': {
        const [p1, s1] = g.edge();
        const [s1o, s2] = g.edge();
        const [s2o, s3] = g.edge();
        g.node({ role: 'sink', in: [s3], expect: total });
        g.node({ role: 'stage', in: [s2], out: [s2o] });
        g.node({ role: 'stage', in: [s1], out: [s1o] });
        g.node({ role: 'producer', out: [p1], count: total });
        break;
      }
      case 'multicast-1p3c': {
        const edges = [g.edge(), g.edge(), g.edge()];
        sinks = 3;
        for (const [, b] of edges) g.node({ role: 'sink', in: [b], expect: total });
        g.node({ role: 'producer', out: edges.map((e) => e[0]), count: total });
        break;
      }
      case 'diamond-1p3c': {
        const [pa, a] = g.edge();
        const [pb, b] = g.edge();
        const [ao, ja] = g.edge();
        const [bo, jb] = g.edge();
        // The join sees each event once per branch.
        g.node({ role: 'sink', in: [ja, jb], expect: total * 2 });
        g.node({ role: 'stage', in: [a], out: [ao] });
        g.node({ role: 'stage', in: [b], out: [bo] });
        g.node({ role: 'producer', out: [pa, pb], count: total });
        break;
      }
    }
    await g.waitFor(sinks);
    const t0 = Math.min(...g.starts.map((s) => s.startNs));
    const t1 = Math.max(...(g.results as DoneMsg[]).map((m) => m.doneNs));
    return (total / (t1 - t0)) * 1e9;
  } finally {
    await g.close();
  }
}

/** The latency pipeline (producer, two stages, sink) over MessageChannels. */
export async function runBaselineLatency(events: number, ratePerSec: number): Promise<LatencyMsg> {
  const g = new Graph();
  try {
    const [p1, s1] = g.edge();
    const [s1o, s2] = g.edge();
    const [s2o, s3] = g.edge();
    g.node({ role: 'sink', in: [s3], expect: events, latency: { warmup: Math.floor(events / 10) } });
    g.node({ role: 'stage', in: [s2], out: [s2o] });
    g.node({ role: 'stage', in: [s1], out: [s1o] });
    g.node({ role: 'producer', out: [p1], count: events, ratePerSec });
    await g.waitFor(1);
    return g.results[0] as LatencyMsg;
  } finally {
    await g.close();
  }
}

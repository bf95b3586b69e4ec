/**
 * What queued requests cost: a pool of one node with one slot, held by a request that hangs there,
 * and `queued` non-streaming requests waiting behind it, each on its own connection. The gateway's
 * heap and RSS (after a full GC) are measured before, while they wait, and after their clients have
 * left; the difference per queued request is the figure.
 */
import { setMaxListeners } from 'node:events';
import { Agent, request } from 'undici';
import { startChild } from './gateway';
import { requestOf } from './workload';

export interface QueueMemory {
  queued: number;
  before: { rss: number; heapUsed: number };
  waiting: { rss: number; heapUsed: number };
  after: { rss: number; heapUsed: number };
  perRequest: { rss: number; heapUsed: number };
  /** Seconds to get them all queued. */
  fillSeconds: number;
  /** In flight at the gateway once every client had left (must be 0). */
  leftInFlight: number;
}

type Stats = { requests_in_progress: number; queue: { depth: number } };

/**
 * The gateway's stats, or undefined when the call failed: with thousands of connections opening,
 * a pooled keep-alive connection may be closed by the gateway just as it is reused.
 */
async function stats(url: string): Promise<Stats | undefined> {
  try {
    return (await (await fetch(`${url}/api/stats`, { headers: { connection: 'close' } })).json()) as Stats;
  } catch {
    return undefined;
  }
}

async function until(what: string, ms: number, cond: () => Promise<boolean>): Promise<void> {
  const end = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function measureQueueMemory(queued: number, log: (line: string) => void = () => undefined): Promise<QueueMemory> {
  const env = await startChild((c) => {
    const first = c.nodes[0];
    first.maxConcurrentRequests = 1;
    c.nodes = [first];
    c.queue = { ...c.queue, maxDepth: queued + 10, maxWaitMs: 600_000 };
    c.disruptor.maxGlobalInFlight = queued + 100;
    c.timeouts = { ...c.timeouts, requestTimeoutMs: 600_000, firstByteTimeoutMs: 600_000, idleTimeoutMs: 600_000 };
    c.healthCheck = { ...c.healthCheck, intervalMs: 3_600_000, discoveryIntervalMs: 3_600_000 };
  });
  const agent = new Agent({ connections: queued + 10, keepAliveTimeout: 600_000, headersTimeout: 0, bodyTimeout: 0 });
  const ac = new AbortController();
  // One signal for every waiting request: that many listeners is the point, not a leak.
  setMaxListeners(queued + 10, ac.signal);
  try {
    const sample = env.sampleMemory!;
    const url = env.gatewayUrl;
    const node = env.sim.nodes.find((n) => n.id === env.base.nodes[0].id)!;
    node.setFaults({ hang: { paths: ['/api/generate'] } });
    const spec = requestOf('generate', 8);
    const post = (): Promise<void> =>
      request(`${url}${spec.path}`, { dispatcher: agent, method: 'POST', body: spec.body, signal: ac.signal }).then(
        (r) => r.body.dump(),
        () => undefined,
      );
    // Warm the gateway's code paths once, then measure its resting memory.
    node.clearFaults();
    await post();
    node.setFaults({ hang: { paths: ['/api/generate'] } });
    const held = post();
    await until('the holder to take the slot', 10_000, async () => (await stats(url))?.requests_in_progress === 1);
    const before = await sample();
    log(`before: heap ${mib(before.heapUsed)}, RSS ${mib(before.rss)}`);
    const t0 = performance.now();
    const waiting = Array.from({ length: queued }, post);
    await until(`${queued} requests queued`, 300_000, async () => ((await stats(url))?.queue.depth ?? 0) >= queued);
    const fillSeconds = (performance.now() - t0) / 1000;
    const during = await sample();
    log(`${queued} queued in ${fillSeconds.toFixed(1)} s: heap ${mib(during.heapUsed)}, RSS ${mib(during.rss)}`);
    ac.abort();
    await Promise.all([held, ...waiting]);
    let left = -1;
    await until('the gateway to hear every client leave', 120_000, async () => (left = (await stats(url))?.requests_in_progress ?? -1) === 0).catch(() => undefined);
    const after = await sample();
    log(`after the clients left: heap ${mib(after.heapUsed)}, RSS ${mib(after.rss)}, ${left} in flight`);
    return {
      queued,
      before,
      waiting: during,
      after,
      perRequest: { rss: (during.rss - before.rss) / queued, heapUsed: (during.heapUsed - before.heapUsed) / queued },
      fillSeconds,
      leftInFlight: left,
    };
  } finally {
    ac.abort();
    await agent.destroy();
    await env.close();
  }
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

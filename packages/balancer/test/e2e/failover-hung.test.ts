import { InferenceRequest, UpstreamTimeoutError, type BalancerConfig, type InferenceResponse } from '../../src';
import { eventually, inFlight, startHarness, type Harness } from './harness';

/**
 * A node that hangs (accepts the connection, never answers) or stalls mid-stream is left behind
 * on learned deadlines, not after the fixed timeouts (60 s first byte, 120 s request, 30 s idle).
 * Bounds here are generous multiples of what the code should take (a loaded CI machine); the
 * sub-second figures are measured by `bench:failover`.
 */

const gen = (n = 12, stream = true) => InferenceRequest.ofPrompt('llama3.2', 'hello there', { stream, options: { num_predict: n } });

async function drain(it: AsyncIterable<Record<string, unknown>>): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const c of it) out.push(c);
  return out;
}

async function withPool(tweak: (c: BalancerConfig) => void, body: (h: Harness) => Promise<void>): Promise<void> {
  const h = await startHarness(
    [
      { id: 'a', models: ['llama3.2'], numParallel: 2, preload: ['llama3.2'] },
      { id: 'b', models: ['llama3.2'], numParallel: 2, preload: ['llama3.2'] },
    ],
    (c) => {
      c.strategy.type = 'round-robin';
      // Health checks far apart: only the failover path may find the hung node here.
      c.healthCheck.intervalMs = 600_000;
      c.healthCheck.discoveryIntervalMs = 600_000;
      tweak(c);
    },
    { timeScale: 0.05 },
  );
  try {
    await body(h);
    await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 5_000, 'in-flight back to 0');
  } finally {
    await h.close();
  }
}

/** Serves a few requests of each kind on every node, so the estimates know the model. */
async function warmUp(h: Harness): Promise<void> {
  const p = h.factory.getPipeline();
  for (let i = 0; i < 4; i++) await drain(p.stream(gen()));
  for (let i = 0; i < 4; i++) await p.submit(gen(12, false));
}

/** `n` non-streamed requests at once, each with how long it took. */
function timedSubmits(h: Harness, n: number): Promise<{ ms: number; res: InferenceResponse }[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const start = Date.now();
      const res = await h.factory.getPipeline().submit(gen(12, false));
      return { ms: Date.now() - start, res };
    }),
  );
}

async function metricValue(h: Harness, line: RegExp): Promise<number> {
  const text = await h.factory.getMetricsRegistry().scrape();
  const m = text.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').pop()) : 0;
}

describe('failover from hung and stalled nodes', () => {
  test('streams sent to a node that hangs are retried elsewhere on their learned deadline, and the node is taken out', async () => {
    await withPool(
      () => undefined,
      async (h) => {
        await warmUp(h);
        h.sim.node('a').setFaults({ hang: {} });
        const p = h.factory.getPipeline();
        const t0 = Date.now();
        const runs = Array.from({ length: 6 }, async () => {
          const start = Date.now();
          const chunks = await drain(p.stream(gen()));
          return { ms: Date.now() - start, done: chunks.at(-1)?.done };
        });
        const results = await Promise.all(runs);
        for (const r of results) {
          expect(r.done).toBe(true);
          // The fixed first-byte timeout is 60 s; the learned one is about half a second.
          expect(r.ms).toBeLessThan(5_000);
        }
        await eventually(() => h.factory.getNodeRegistry().getNode('a')?.health === 'UNHEALTHY', 3_000, 'a marked down by its probe');
        expect(Date.now() - t0).toBeLessThan(8_000);
        expect(h.factory.getNodeRegistry().getNode('a')?.breakerState).toBe('open');
        expect(await metricValue(h, /node_suspected_total\{node="a",cause="first-byte"\}/)).toBeGreaterThanOrEqual(1);
        // Later requests go to b straight away.
        const start = Date.now();
        await drain(p.stream(gen()));
        expect(Date.now() - start).toBeLessThan(2_000);
        h.sim.node('a').setFaults({ hang: null });
      },
    );
  });

  test('non-streamed requests to a node that hangs are streamed from it, so they too are retried on the learned first-byte deadline', async () => {
    await withPool(
      () => undefined,
      async (h) => {
        await warmUp(h);
        h.sim.node('a').setFaults({ hang: {} });
        for (const { ms, res } of await timedSubmits(h, 4)) {
          expect(res.body).toMatchObject({ done: true, model: 'llama3.2' });
          expect(typeof res.body.response).toBe('string');
          expect(res.nodeId).toBe('b');
          // The fixed request timeout is 120 s.
          expect(ms).toBeLessThan(5_000);
        }
        expect(await metricValue(h, /node_suspected_total\{node="a",cause="first-byte"\}/)).toBeGreaterThanOrEqual(1);
        await eventually(() => h.factory.getNodeRegistry().getNode('a')?.health === 'UNHEALTHY', 3_000, 'a marked down by its probe');
        h.sim.node('a').setFaults({ hang: null });
      },
    );
  });

  test('a non-streamed generate that stalls on its node is retried elsewhere: nothing had reached the client', async () => {
    await withPool(
      (c) => (c.failover.minStallMs = 300),
      async (h) => {
        await warmUp(h);
        h.sim.node('a').setFaults({ hang: { afterTokens: 3 } });
        const results = await Promise.all(Array.from({ length: 4 }, () => h.factory.getPipeline().submit(gen(12, false))));
        for (const r of results) {
          expect(r.body.done).toBe(true);
          expect(r.nodeId).toBe('b');
        }
        expect(results.some((r) => r.retries > 0)).toBe(true);
        expect(await metricValue(h, /node_suspected_total\{node="a",cause="stall"\}/)).toBeGreaterThanOrEqual(1);
        h.sim.node('a').setFaults({ hang: null });
      },
    );
  });

  test('non-streamed requests on a node that hangs move to another node once its probe fails (failover.streamUpstream off)', async () => {
    await withPool(
      (c) => (c.failover.streamUpstream = false),
      async (h) => {
        await warmUp(h);
        h.sim.node('a').setFaults({ hang: {} });
        for (const { ms, res } of await timedSubmits(h, 4)) {
          expect(res.body.done).toBe(true);
          expect(res.nodeId).toBe('b');
          // The fixed request timeout is 120 s; overdue sweep + probe + retry is about a second.
          expect(ms).toBeLessThan(6_000);
        }
        await eventually(() => h.factory.getNodeRegistry().getNode('a')?.health === 'UNHEALTHY', 3_000, 'a marked down by its probe');
        expect(await metricValue(h, /node_suspected_total\{node="a",cause="overdue"\}/)).toBeGreaterThanOrEqual(1);
        h.sim.node('a').setFaults({ hang: null });
      },
    );
  });

  test('a stream that stalls mid-way ends with one timeout error, frees its slot, and its node is suspected', async () => {
    await withPool(
      (c) => (c.failover.minStallMs = 300),
      async (h) => {
        await warmUp(h);
        h.sim.node('a').setFaults({ hang: { afterTokens: 3 } });
        h.sim.node('b').setFaults({ hang: { afterTokens: 3 } });
        const start = Date.now();
        const chunks: Record<string, unknown>[] = [];
        const err = await (async () => {
          for await (const c of h.factory.getPipeline().stream(gen(40))) chunks.push(c);
        })().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UpstreamTimeoutError);
        expect((err as UpstreamTimeoutError).phase).toBe('idle');
        expect(chunks.length).toBeGreaterThanOrEqual(1);
        expect(chunks.some((c) => c.done === true)).toBe(false);
        // The fixed idle timeout is 30 s.
        expect(Date.now() - start).toBeLessThan(5_000);
        expect((await metricValue(h, /node_suspected_total\{node="[ab]",cause="stall"\}/)) >= 1).toBe(true);
        h.sim.node('a').setFaults({ hang: null });
        h.sim.node('b').setFaults({ hang: null });
      },
    );
  });

  test('a node left behind comes back through half-open trials once it answers again', async () => {
    await withPool(
      (c) => (c.healthCheck.circuitBreakerRecoveryMs = 300),
      async (h) => {
        await warmUp(h);
        h.sim.node('a').setFaults({ hang: {} });
        const p = h.factory.getPipeline();
        await Promise.all(Array.from({ length: 4 }, () => drain(p.stream(gen()))));
        await eventually(() => h.factory.getNodeRegistry().getNode('a')?.breakerState === 'open', 3_000, 'a out');
        h.sim.node('a').setFaults({ hang: null });
        // Recovery time over: one trial at a time, and its success closes the breaker.
        const until = Date.now() + 5_000;
        while (h.factory.getNodeRegistry().getNode('a')?.breakerState !== 'closed' && Date.now() < until) await drain(p.stream(gen()));
        expect(h.factory.getNodeRegistry().getNode('a')?.breakerState).toBe('closed');
        const served = new Set<string>();
        for (let i = 0; i < 6; i++) served.add((await p.submit(gen(12, false))).nodeId);
        expect(served.has('a')).toBe(true);
      },
    );
  });

  test('a node that answers its probe but keeps missing deadlines (a hung runner) gets one trial, then waits out its recovery', async () => {
    await withPool(
      (c) => (c.healthCheck.circuitBreakerRecoveryMs = 60_000),
      async (h) => {
        await warmUp(h);
        const inference = () => {
          const byRoute = h.sim.node('a').state().byRoute;
          return (byRoute['POST /api/generate'] ?? 0) + (byRoute['POST /api/chat'] ?? 0);
        };
        const before = inference();
        h.sim.node('a').setFaults({ hang: { paths: ['/api/generate'] } });
        const p = h.factory.getPipeline();
        for (let i = 0; i < 8; i++) expect((await drain(p.stream(gen()))).at(-1)?.done).toBe(true);
        // The first miss, then one trial after its probe answered; no more.
        expect(inference() - before).toBeLessThanOrEqual(2);
        expect(h.factory.getNodeRegistry().getNode('a')?.breakerState).toBe('open');
        expect(h.factory.getNodeRegistry().getNode('a')?.health).toBe('HEALTHY');
        h.sim.node('a').setFaults({ hang: null });
      },
    );
  });

  test('a node five times slower than its peer is used, not suspected: its deadlines are its own', async () => {
    await withPool(
      () => undefined,
      async (h) => {
        h.sim.node('b').setFaults({ slowdown: 5 });
        await warmUp(h);
        const p = h.factory.getPipeline();
        const nodes = new Set<string>();
        for (let i = 0; i < 6; i++) nodes.add((await p.submit(gen(12, false))).nodeId);
        for (let i = 0; i < 6; i++) expect((await drain(p.stream(gen()))).at(-1)?.done).toBe(true);
        expect(nodes.has('b')).toBe(true);
        expect(await metricValue(h, /node_suspected_total\{node="b"/)).toBe(0);
        expect(h.factory.getNodeRegistry().getNode('b')?.breakerState).toBe('closed');
      },
    );
  });

  test('with failover.adaptive off, only the fixed timeouts apply', async () => {
    await withPool(
      (c) => {
        c.failover.adaptive = false;
        c.timeouts.firstByteTimeoutMs = 1_500;
      },
      async (h) => {
        await warmUp(h);
        h.sim.node('a').setFaults({ hang: {} });
        const start = Date.now();
        // Round-robin: two requests, so one of them goes to a.
        await Promise.all([drain(h.factory.getPipeline().stream(gen())), drain(h.factory.getPipeline().stream(gen()))]);
        expect(Date.now() - start).toBeGreaterThanOrEqual(1_400);
        h.sim.node('a').setFaults({ hang: null });
      },
    );
  });
});

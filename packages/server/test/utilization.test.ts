import { allRoutes, type StatsBody } from '../src';
import { eventually } from '../../balancer/test/e2e/harness';
import { startGateway, type GatewayHarness } from './gateway-harness';

/**
 * Keeps `clients` requests going back to back until `ms` have passed: with well more clients than
 * the slots they may use, requests always wait in the balancer's queue, so a slot that frees is
 * taken again in the same scheduling pass and the nodes never idle.
 */
async function keepBusy(url: string, clients: number, ms: number, headers: Record<string, string> = {}): Promise<void> {
  const end = Date.now() + ms;
  const client = async (): Promise<void> => {
    while (Date.now() < end) {
      const res = await fetch(`${url}/api/generate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ model: 'llama3.2', prompt: 'Tell me a story.', stream: false, options: { num_predict: 40 } }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
}

/**
 * Utilization per node over `ms` in the middle of a load (the balancer's own counters, read at both
 * ends), from the time every node has a request in flight and more waiting.
 */
async function steadyUtilization(g: GatewayHarness, nodes: string[], ms: number): Promise<Record<string, number>> {
  const started = () => {
    const v = g.factory.getPoolView();
    return v.queue.depth > 0 && nodes.every((id) => (v.nodes.find((n) => n.id === id)?.inFlight ?? 0) > 0);
  };
  await eventually(started, 10_000, 'the load to start');
  const before = g.factory.getPoolView().usage;
  await new Promise((r) => setTimeout(r, ms));
  const after = g.factory.getPoolView().usage;
  return Object.fromEntries(nodes.map((id) => [id, (after[id].busySlotMs - before[id].busySlotMs) / (after[id].capacitySlotMs - before[id].capacitySlotMs)]));
}

async function stats(url: string): Promise<StatsBody> {
  const res = await fetch(`${url}/api/stats`);
  expect(res.status).toBe(200);
  return (await res.json()) as StatsBody;
}

/** `name{labels} value` samples of one metric family in Prometheus text, keyed by their label text. */
async function metric(url: string, name: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${name}\\{(.*)\\} (\\S+)$`, 'gm'))) out.set(m[1], Number(m[2]));
  return out;
}

describe('utilization and load imbalance', () => {
  let g: GatewayHarness | undefined;
  afterEach(async () => {
    await g?.close();
    g = undefined;
  });

  test('a node kept busy reads about 100 %, an idle one about 0 %, and their imbalance is large', async () => {
    const t0 = Date.now(); // the nodes join the pool after this
    // Both serve the model; the tag sends every request to `busy`.
    g = await startGateway(
      [
        { id: 'busy', models: ['llama3.2'], numParallel: 1 },
        { id: 'idle', models: ['llama3.2'], numParallel: 1 },
      ],
      (c) => (c.nodes[0].tags = ['hot']),
      { routes: allRoutes },
    );
    // While it is kept busy (requests always waiting for its one slot): about 100 %. Not quite: a
    // request here lasts some 20 ms, and between one's release and the next one's binding the
    // scheduler applies the rest of its batch, during which the slot is free.
    const load = keepBusy(g.url, 6, 3_000, { 'x-ollama-ring-tags': 'hot' });
    const steady = await steadyUtilization(g, ['busy'], 1_500);
    await load;
    const after = g.factory.getPoolView().usage;
    expect(steady.busy).toBeGreaterThan(0.95);
    expect(after.idle.busySlotMs).toBe(0);

    // /api/stats counts from when the node joined, start-up included: at least the busy time over
    // all the time since before the gateway started (one slot), and the same in both windows (the
    // node is younger than a minute).
    const s = await stats(g.url);
    const floor = after.busy.busySlotMs / (Date.now() - t0);
    const busy = s.instances.busy.utilization;
    expect(busy.since_start).toBeGreaterThanOrEqual(floor - 0.001);
    expect(busy.since_start).toBeLessThanOrEqual(1);
    expect(busy.last_minute).toBeCloseTo(busy.since_start, 2);
    expect(s.instances.idle.utilization).toEqual({ last_minute: 0, since_start: 0 });
    // (u − 0) ÷ mean u/2 = 2 for a used node beside an idle one.
    expect(s.load_imbalance.last_minute).toBeCloseTo(2, 6);
    expect(s.load_imbalance.by_model['llama3.2:latest'].nodes).toEqual(['busy', 'idle']);
    expect(s.load_imbalance.definition).toMatch(/max − min/);

    const util = await metric(g.url, 'ollama_lb_node_utilization');
    expect(util.get('node="busy",window="1m"')).toBeGreaterThanOrEqual(after.busy.busySlotMs / (Date.now() - t0) - 0.001);
    expect(util.get('node="idle",window="1m"')).toBe(0);
    expect(util.get('node="idle",window="start"')).toBe(0);
    const imbalance = await metric(g.url, 'ollama_lb_load_imbalance');
    expect(imbalance.get('window="1m"')).toBeCloseTo(2, 6);
  }, 30_000);

  test('two equal nodes under the same load: both busy, imbalance small; in flight back to 0 after', async () => {
    g = await startGateway(
      [
        { id: 'a', models: ['llama3.2'], numParallel: 2 },
        { id: 'b', models: ['llama3.2'], numParallel: 2 },
      ],
      (c) => (c.strategy.type = 'least-in-flight'),
      { routes: allRoutes },
    );
    const load = keepBusy(g.url, 10, 3_000);
    const steady = await steadyUtilization(g, ['a', 'b'], 1_500);
    await load;
    for (const id of ['a', 'b']) expect(steady[id]).toBeGreaterThan(0.95);
    const s = await stats(g.url);
    // Equal nodes, equally used from the same start: their utilization differs by less than 5 % of its mean.
    expect(s.instances.a.utilization.since_start).toBeGreaterThan(0);
    expect(s.load_imbalance.last_minute).toBeLessThan(0.05);
    expect(s.load_imbalance.since_start).toBeLessThan(0.05);
    expect(s.requests_in_progress).toBe(0);
    expect(Object.values(s.instances).map((i) => i.active_requests)).toEqual([0, 0]);
  }, 30_000);

  test('a pool with no model served by two nodes has no imbalance to report', async () => {
    g = await startGateway(
      [
        { id: 'a', models: ['llama3.2'], numParallel: 1 },
        { id: 'b', models: ['qwen3'], numParallel: 1 },
      ],
      undefined,
      { routes: allRoutes },
    );
    const s = await stats(g.url);
    expect(s.load_imbalance).toMatchObject({ last_minute: null, since_start: null, by_model: {} });
    expect((await metric(g.url, 'ollama_lb_load_imbalance')).size).toBe(0);
  }, 30_000);
});

import { allRoutes } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

/**
 * Fair queuing between API keys and `auth.apiKeys[].maxPriority`, through the gateway against an
 * emulated node with one slot: a key that floods the queue does not hold back a light one, and a
 * key's priority is capped at its maximum.
 */

const KEYS = [
  { key: 'sk-flood-secret', name: 'flood' },
  { key: 'sk-light-secret', name: 'light' },
  { key: 'sk-capped-secret', name: 'capped', maxPriority: 0 },
  { key: 'sk-free-secret', name: 'free' },
];

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function generate(url: string, key: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`${url}/api/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify({ model: 'llama3.2', prompt: 'hi', stream: false, options: { num_predict: 4 }, ...body }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** `fair_queue_served_total` by key label. */
async function servedByKey(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^ollama_lb_fair_queue_served_total\{key="([^"]*)"\} (\S+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

const idle = (h: GatewayHarness) => h.factory.getPoolView().nodes.every((n) => n.inFlight === 0) && h.factory.getPoolView().live === 0;

describe('fair queuing between API keys through the gateway', () => {
  let h: GatewayHarness;
  beforeEach(async () => {
    h = await startGateway(
      [{ id: 'a', models: ['llama3.2'], preload: ['llama3.2'], numParallel: 1 }],
      (c) => {
        c.auth.apiKeys = KEYS.map((k) => ({ ...k }));
        c.healthCheck.intervalMs = 600_000;
      },
      { routes: allRoutes },
    );
  });
  afterEach(async () => {
    await until(() => idle(h), 10_000, 'in-flight back to 0');
    await h.close();
  });

  test('a light key is served within a bounded wait while another floods the queue', async () => {
    const completed: string[] = [];
    // Generations three times slower than the emulator's scaled default: the flood's queue lasts seconds.
    h.sim.node('a').setFaults({ slowdown: 3 });
    const flood = Array.from({ length: 40 }, () => generate(h.url, 'sk-flood-secret').then((s) => (expect(s).toBe(200), completed.push('F'))));
    await until(() => h.factory.getPoolView().queue.depth >= 20, 10_000, 'the flood to queue');
    // Each light request, sent one after the other, waits for at most the flood's request on the
    // slot and the one ahead of it in its turn: never behind the flood's whole queue.
    for (let i = 0; i < 5; i++) {
      const before = completed.length;
      expect(await generate(h.url, 'sk-light-secret')).toBe(200);
      completed.push('L');
      expect(completed.length - 1 - before).toBeLessThanOrEqual(3);
    }
    // The light key was done while the flood still waited: it never waited for the flood to drain.
    expect(h.factory.getPoolView().queue.depth).toBeGreaterThan(0);
    await Promise.all(flood);
    expect(await servedByKey(h.url)).toMatchObject({ flood: 40, light: 5 });
  });

  test('two keys that both keep requests waiting get about equal service, whatever their number of clients', async () => {
    const done: Record<string, number> = { flood: 0, light: 0 };
    let total = 0;
    const client = async (key: string, name: string): Promise<void> => {
      while (total < 80) {
        expect(await generate(h.url, key)).toBe(200);
        total++;
        done[name]++;
      }
    };
    // Slower generations, so a client's turnaround between requests is short beside one on the slot.
    h.sim.node('a').setFaults({ slowdown: 2 });
    // Five times as many clients on one key: first come, first served would give it about 83 %.
    await Promise.all([...Array.from({ length: 20 }, () => client('sk-flood-secret', 'flood')), ...Array.from({ length: 4 }, () => client('sk-light-secret', 'light'))]);
    const served = await servedByKey(h.url);
    expect(served.flood + served.light).toBe(done.flood + done.light);
    // The light key's clients always have a request waiting (or on the slot): it gets about a half.
    expect(served.light / (served.flood + served.light)).toBeGreaterThan(0.3);
    // Key names only, never a secret.
    expect(Object.keys(served).join()).not.toContain('secret');
  });

  test("a key's priority is capped at its maxPriority (header and body), and the queue shows it", async () => {
    // The node's one slot is held by a generation that hangs until its client leaves.
    h.sim.node('a').setFaults({ hang: { count: 1, paths: ['/api/generate'] } });
    const leave = new AbortController();
    const holder = fetch(`${h.url}/api/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-free-secret' },
      body: JSON.stringify({ model: 'llama3.2', prompt: 'hi', stream: true }),
      signal: leave.signal,
    }).catch(() => undefined);
    await until(() => (h.factory.getPoolView().nodes[0]?.inFlight ?? 0) === 1, 5_000, 'the slot to be held');
    const capped = generate(h.url, 'sk-capped-secret', { priority: 'high' }, { 'x-ollama-ring-priority': '50' });
    const free = generate(h.url, 'sk-free-secret', { priority: 5 });
    await until(() => h.factory.getPoolView().queue.depth === 2, 5_000, 'both to wait');
    const queue = (await (await fetch(`${h.url}/admin/queue`)).json()) as { waiting: { priority: number; class: string }[] };
    // The capped key asked for 50 and got 0: the free key's 5 goes first.
    expect(queue.waiting.map((w) => [w.priority, w.class])).toEqual([
      [5, 'interactive'],
      [0, 'interactive'],
    ]);
    const metrics = await (await fetch(`${h.url}/metrics`)).text();
    expect(metrics).toContain('ollama_lb_requests_queued{class="interactive"} 2\n');
    expect(metrics).toContain('ollama_lb_requests_running{class="interactive"} 1\n');
    expect(metrics).toContain('ollama_lb_requests_queued{class="batch"} 0\n');
    leave.abort();
    await holder;
    expect(await Promise.all([capped, free])).toEqual([200, 200]);
  });
});

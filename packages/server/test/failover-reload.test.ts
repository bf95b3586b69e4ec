import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PipelineFactory } from '@ollama-ring/balancer';
import { startSimPool, type SimPool } from '@ollama-ring/ollama-sim';
import { Ollama } from 'ollama';
import { allRoutes, Gateway } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How one request through the official client ended, and which node the gateway said served it. */
type Outcome =
  | { kind: 'ok'; stream: boolean; chunks: number; node: string | null }
  /** Failed after chunks had reached the client: the documented in-band `{"error"}` line. */
  | { kind: 'cut'; chunks: number; message: string; node: string | null }
  /** Failed before anything reached the client: a lost request. */
  | { kind: 'lost'; stream: boolean; message: string; node: string | null };

/**
 * A streamed chat, or a non-streamed generate, through the official client (its own instance, whose
 * fetch notes `X-Ollama-Ring-Node`). `onChunk` hears of every streamed chunk with the serving node.
 */
async function run(url: string, stream: boolean, tokens: number, onChunk?: (node: string | null, n: number) => void): Promise<Outcome> {
  let node: string | null = null;
  const ollama = new Ollama({
    host: url,
    fetch: async (input: string | URL | Request, init?: RequestInit) => {
      const res = await fetch(input, init);
      node = res.headers.get('x-ollama-ring-node');
      return res;
    },
  });
  let chunks = 0;
  try {
    if (!stream) {
      const r = await ollama.generate({ model: 'llama3.2', prompt: 'hi', stream: false, options: { num_predict: tokens } });
      return r.done ? { kind: 'ok', stream, chunks: 1, node } : { kind: 'lost', stream, message: 'not done', node };
    }
    const it = await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: true, options: { num_predict: tokens } });
    let done = false;
    for await (const part of it) {
      onChunk?.(node, ++chunks);
      done ||= part.done;
    }
    return done ? { kind: 'ok', stream, chunks, node } : { kind: 'lost', stream, message: 'ended without done', node };
  } catch (e) {
    const message = (e as Error).message;
    return chunks > 0 ? { kind: 'cut', chunks, message, node } : { kind: 'lost', stream, message, node };
  }
}

describe('failover through the gateway when a node dies mid-run (official ollama client)', () => {
  let g: GatewayHarness;
  afterEach(() => g.close());

  test('no request that had not started streaming is lost; streams cut on the dead node end with an error line; in-flight returns to 0', async () => {
    g = await startGateway(
      ['a', 'b', 'c'].map((id) => ({ id, models: ['llama3.2'], numParallel: 2, preload: ['llama3.2'], responseTokens: { min: 400, max: 400 } })),
      (c) => {
        c.strategy.type = 'round-robin';
        c.healthCheck.intervalMs = 100;
      },
      { routes: allRoutes },
    );
    // About 4 ms a token: each request lasts a few hundred ms, so the kill lands mid-stream.
    for (const id of ['a', 'b', 'c']) g.sim.node(id).setFaults({ slowdown: 10 });
    // The kill comes once a stream served by a has reached its client (10 chunks in), mid-run.
    let streamingOnA!: () => void;
    const aStreaming = new Promise<void>((r) => (streamingOnA = r));
    const onChunk = (node: string | null, n: number) => {
      if (node === 'a' && n === 10) streamingOnA();
    };
    // A steady flow, three in four streamed (a pattern that round-robin over three nodes cannot
    // line up with), that goes on for eight more requests after the kill.
    const runs: Promise<Outcome>[] = [];
    let killed = false;
    const flow = (async () => {
      for (let i = 0, after = 0; i < 300 && after < 8; i++) {
        runs.push(run(g.url, i % 4 !== 0, 60, onChunk));
        if (killed) after++;
        await sleep(25);
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([aStreaming, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no stream served by a reached its client')), 30_000)))]).finally(() =>
      clearTimeout(timer),
    );
    const busyAtKill = g.factory.getNodeRegistry().getNode('a')?.inFlight ?? 0;
    // The process dies: listener closed, every connection (streams included) dropped.
    await g.sim.node('a').close();
    killed = true;
    await flow;
    const outcomes = await Promise.all(runs);

    expect(busyAtKill).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.kind === 'lost')).toEqual([]);
    const cut = outcomes.filter((o): o is Extract<Outcome, { kind: 'cut' }> => o.kind === 'cut');
    // The stream that triggered the kill is cut, with the gateway's in-band error line naming the node;
    // at most a's two slots' worth can be. Everything else, a's other work included, succeeded.
    expect(cut.length).toBeGreaterThanOrEqual(1);
    expect(cut.length).toBeLessThanOrEqual(2);
    for (const c of cut) {
      expect(c.node).toBe('a');
      expect(c.message).toMatch(/^upstream a failed: /);
    }
    expect(outcomes.filter((o) => o.kind === 'ok').length).toBe(runs.length - cut.length);
    // Afterwards the pool serves without a: nothing stuck, nothing counted in flight.
    await until(
      () =>
        g.factory
          .getNodeRegistry()
          .getAllNodes()
          .every((n) => n.inFlight === 0),
      5_000,
      'in-flight back to 0',
    );
    expect(g.factory.getPoolView().live).toBe(0);
    const after = await Promise.all(Array.from({ length: 4 }, () => run(g.url, true, 5)));
    expect(after.map((o) => o.kind)).toEqual(['ok', 'ok', 'ok', 'ok']);
  }, 60_000);
});

describe('hot reload of the config file under load, through the gateway', () => {
  let sim: SimPool;
  let factory: PipelineFactory;
  let gateway: Gateway;
  let dir: string;
  afterEach(async () => {
    await gateway?.close(5_000);
    await sim?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('edits apply while requests flow; none is lost; an admin-added node survives; in-flight back to 0', async () => {
    sim = await startSimPool({
      timeScale: 0.02,
      models: [{ name: 'llama3.2', loadMs: 2000 }],
      nodes: ['a', 'b', 'c', 'x'].map((id) => ({ id, models: ['llama3.2'], numParallel: 2, preload: ['llama3.2'], responseTokens: { min: 200, max: 200 } })),
    });
    for (const id of ['a', 'b', 'c', 'x']) sim.node(id).setFaults({ slowdown: 5 });
    dir = mkdtempSync(join(tmpdir(), 'ollama-ring-reload-'));
    const file = join(dir, 'config.yaml');
    const yaml = (strategy: string, nodes: [string, number][]) =>
      [
        'strategy:',
        `  type: ${strategy}`,
        'healthCheck:',
        '  intervalMs: 200',
        'nodes:',
        ...nodes.flatMap(([id, slots]) => [`  - id: ${id}`, `    url: ${sim.node(id).url}`, `    maxConcurrentRequests: ${slots}`]),
        '',
      ].join('\n');
    writeFileSync(
      file,
      yaml('round-robin', [
        ['a', 2],
        ['b', 2],
      ]),
    );
    const errors: Error[] = [];
    factory = await PipelineFactory.create(file, { watch: true, env: {}, onConfigError: (e) => errors.push(e) }).start();
    gateway = new Gateway({ factory, routes: allRoutes });
    const url = `http://127.0.0.1:${(await gateway.listen(0)).port}`;
    // An operator adds a node by hand; the file edits below must not drop it.
    const added = await fetch(`${url}/admin/nodes`, { method: 'POST', body: JSON.stringify({ id: 'x', url: sim.node('x').url, maxConcurrentRequests: 1 }) });
    expect(added.status).toBe(201);

    const runs = Array.from({ length: 36 }, (_, i) => sleep(i * 30).then(() => run(url, i % 2 === 0, 40)));
    await until(() => (factory.getNodeRegistry().getNode('b')?.inFlight ?? 0) > 0, 5_000, 'b busy');
    // Edit 1: b goes (while it has requests), c comes, a gets more slots, the strategy changes.
    writeFileSync(
      file,
      yaml('least-in-flight', [
        ['a', 3],
        ['c', 2],
      ]),
    );
    await until(() => factory.getConfig().strategy.type === 'least-in-flight', 10_000, 'first edit applied');
    expect(
      factory
        .getNodeRegistry()
        .getAllNodes()
        .map((n) => [n.id, n.maxConcurrent]),
    ).toEqual([
      ['a', 3],
      ['x', 1],
      ['c', 2],
    ]);
    await sleep(200);
    // Edit 2 while requests still flow: a bad edit changes nothing, then a good one.
    writeFileSync(file, 'nodes: [\n  - id: a\n');
    await until(() => errors.length > 0, 10_000, 'bad edit reported');
    writeFileSync(
      file,
      yaml('round-robin', [
        ['a', 2],
        ['c', 2],
      ]),
    );
    await until(() => factory.getConfig().strategy.type === 'round-robin', 10_000, 'second edit applied');

    const outcomes = await Promise.all(runs);
    expect(outcomes.filter((o) => o.kind !== 'ok')).toEqual([]);
    await until(() => factory.getPoolView().live === 0, 5_000, 'nothing live');
    const nodes = factory.getNodeRegistry().getAllNodes();
    expect(nodes.map((n) => n.id).sort()).toEqual(['a', 'c', 'x']);
    expect(nodes.every((n) => n.inFlight === 0)).toBe(true);
    // b finished what it had, then left the pool for good.
    expect(factory.getPoolView().nodes.some((n) => n.id === 'b')).toBe(false);
    // Every node that stayed served, the admin-added one included.
    expect(nodes.every((n) => n.totalRequests > 0)).toBe(true);
  }, 60_000);
});

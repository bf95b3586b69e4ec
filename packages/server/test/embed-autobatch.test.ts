import type { SimNodeConfig } from '@ollama-ring/ollama-sim';
import { eventually, inFlight } from '../../balancer/test/e2e/harness';
import { startGateway, type GatewayHarness } from './gateway-harness';

// Embedding autobatch through the gateway, against the emulator: concurrent embedding requests that
// differ only in their input share one upstream /api/embed call, and each caller still gets exactly
// its own vectors, in order, in its own API's shape.

const MODEL = 'nomic-embed-text';
const embedNode = (id: string, extra: Partial<SimNodeConfig> = {}): SimNodeConfig => ({ id, models: [MODEL], preload: [MODEL], ...extra });

async function post(url: string, path: string, body: unknown, signal?: AbortSignal): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** Upstream calls of a route the emulator's nodes counted, over the pool. */
function upstreamCalls(h: GatewayHarness, path: string): number {
  return h.sim.state().reduce((n, s) => n + ((s.byRoute as Record<string, number>)[`POST ${path}`] ?? 0), 0);
}

/** What a node answers for these inputs when asked directly (the reference vectors). */
async function direct(h: GatewayHarness, input: string[], extra: Record<string, unknown> = {}): Promise<number[][]> {
  const r = await post(h.sim.nodes[0].url, '/api/embed', { model: MODEL, input, ...extra });
  return r.body.embeddings as number[][];
}

describe('embedding autobatch: coalescing', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGateway([embedNode('a')], (c) => {
      c.autobatch.windowMs = 100;
    });
  });
  afterAll(() => h.close());

  it('answers N concurrent requests from fewer upstream calls, each with exactly its own vectors, in its API shape', async () => {
    const before = upstreamCalls(h, '/api/embed');
    const texts = Array.from({ length: 12 }, (_, i) => `document number ${i}`);
    const answers = await Promise.all(
      texts.map((t, i) =>
        i % 3 === 0
          ? post(h.url, '/v1/embeddings', { model: MODEL, input: t })
          : i % 3 === 1
            ? post(h.url, '/api/embed', { model: MODEL, input: t })
            : post(h.url, '/api/embed', { model: MODEL, input: [t, `${t} (second)`] }),
      ),
    );
    const calls = upstreamCalls(h, '/api/embed') - before;
    expect(calls).toBeGreaterThanOrEqual(1);
    expect(calls).toBeLessThan(texts.length);
    for (const [i, a] of answers.entries()) {
      expect(a.status).toBe(200);
      expect(Number(a.headers.get('x-ollama-ring-coalesced'))).toBeGreaterThan(1);
      const t = texts[i];
      if (i % 3 === 0) {
        expect(a.body).toMatchObject({ object: 'list', model: MODEL });
        const data = a.body.data as { object: string; index: number; embedding: number[] }[];
        expect(data.map((d) => [d.object, d.index])).toEqual([['embedding', 0]]);
        expect(data[0].embedding).toEqual((await direct(h, [t]))[0]);
        const usage = a.body.usage as { prompt_tokens: number; total_tokens: number };
        expect(usage.prompt_tokens).toBeGreaterThan(0);
        expect(usage.total_tokens).toBe(usage.prompt_tokens);
      } else {
        const inputs = i % 3 === 1 ? [t] : [t, `${t} (second)`];
        expect(a.body.model).toBe(MODEL);
        expect(a.body.embeddings).toEqual(await direct(h, inputs));
        expect(a.body.prompt_eval_count).toBeGreaterThan(0);
      }
    }
    const metrics = await h.factory.getMetricsRegistry().scrape();
    const value = (name: string) => Number(new RegExp(`^ollama_lb_${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
    expect(value('embed_coalesced_calls_total')).toBe(calls);
    expect(value('embed_requests_coalesced_total')).toBe(texts.length);
    expect(value('embed_batch_size_count')).toBe(calls);
    expect(value('embed_batch_size_sum')).toBe(texts.length);
    await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 5_000, 'in-flight back to 0');
  });

  it('does not merge requests whose options differ', async () => {
    const groups = [{}, { dimensions: 4 }, { truncate: false }, { options: { num_ctx: 512 } }];
    const answers = await Promise.all(
      groups.flatMap((g) => [0, 1, 2].map((k) => post(h.url, '/api/embed', { model: MODEL, input: `text ${k}`, ...g }).then((r) => ({ g, k, r })))),
    );
    for (const { g, k, r } of answers) {
      expect(r.status).toBe(200);
      // Shared at most with the two others of its group.
      expect(Number(r.headers.get('x-ollama-ring-coalesced'))).toBeLessThanOrEqual(3);
      expect(r.body.embeddings).toEqual(await direct(h, [`text ${k}`], g));
    }
    const fours = answers.filter((a) => 'dimensions' in a.g);
    for (const a of fours) expect((a.r.body.embeddings as number[][])[0]).toHaveLength(4);
  });

  it('a caller that leaves does not hurt the others', async () => {
    const ac = new AbortController();
    const leaving = post(h.url, '/api/embed', { model: MODEL, input: 'the one that leaves' }, ac.signal).then(
      () => 'answered',
      () => 'aborted',
    );
    const staying = ['s1', 's2', 's3'].map((t) => post(h.url, '/api/embed', { model: MODEL, input: t }));
    await new Promise((r) => setTimeout(r, 30)); // inside the 100 ms window: all four are gathered
    ac.abort();
    expect(await leaving).toBe('aborted');
    const got = await Promise.all(staying);
    for (const [i, r] of got.entries()) {
      expect(r.status).toBe(200);
      expect(r.body.embeddings).toEqual(await direct(h, [`s${i + 1}`]));
    }
    await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 5_000, 'in-flight back to 0');
  });

  it("gives an error of the combined call to each caller, in its API's shape", async () => {
    const [ollama, openai] = await Promise.all([
      post(h.url, '/api/embed', { model: 'not-installed', input: 'x' }),
      post(h.url, '/v1/embeddings', { model: 'not-installed', input: 'y' }),
    ]);
    expect(ollama.status).toBe(404);
    expect(typeof ollama.body.error).toBe('string');
    expect(openai.status).toBe(404);
    expect((openai.body.error as { message: string }).message).toMatch(/not-installed/);
  });

  it('answers a request its own route refuses as it would without autobatch', async () => {
    // Blank model: /v1/embeddings answers 400, where the /api/embed of a combined call would say 404.
    const [openai, ollama] = await Promise.all([post(h.url, '/v1/embeddings', { model: '  ', input: 'x' }), post(h.url, '/api/embed', { model: '  ', input: 'y' })]);
    expect(openai.status).toBe(400);
    expect(ollama.status).toBe(404);
  });

  it('a combined call served by the fallback model says so to each caller, as a lone one would', async () => {
    const headers = { 'content-type': 'application/json', 'x-ollama-ring-fallback-model': MODEL };
    const got = await Promise.all(
      ['f1', 'f2'].map(async (t) => {
        const res = await fetch(`${h.url}/api/embed`, { method: 'POST', headers, body: JSON.stringify({ model: 'not-installed', input: t }) });
        return { res, body: (await res.json()) as Record<string, unknown> };
      }),
    );
    for (const [i, { res, body }] of got.entries()) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-ollama-ring-fallback')).toBe('not-installed');
      expect(res.headers.get('x-ollama-ring-coalesced')).toBe('2');
      expect(body.model).toBe(MODEL);
      expect(body.embeddings).toEqual(await direct(h, [['f1', 'f2'][i]]));
    }
  });

  it('leaves the legacy /api/embeddings alone by default (its vectors are not normalised)', async () => {
    const before = upstreamCalls(h, '/api/embeddings');
    const got = await Promise.all(['l1', 'l2', 'l3'].map((p) => post(h.url, '/api/embeddings', { model: MODEL, prompt: p })));
    expect(upstreamCalls(h, '/api/embeddings') - before).toBe(3);
    for (const r of got) expect(r.headers.get('x-ollama-ring-coalesced')).toBeNull();
  });
});

describe('embedding autobatch: settings', () => {
  it('off, every request is its own call; legacy on, /api/embeddings callers share an /api/embed call', async () => {
    const h = await startGateway([embedNode('a')], (c) => {
      c.autobatch.enabled = false;
      c.autobatch.windowMs = 100;
    });
    try {
      const before = upstreamCalls(h, '/api/embed');
      await Promise.all(['a', 'b', 'c', 'd'].map((t) => post(h.url, '/api/embed', { model: MODEL, input: t })));
      expect(upstreamCalls(h, '/api/embed') - before).toBe(4);
      const cfg = h.gateway.factory.getConfig();
      await h.gateway.factory.reload({ ...cfg, autobatch: { ...cfg.autobatch, enabled: true, legacy: true } });
      const mid = upstreamCalls(h, '/api/embed');
      const got = await Promise.all(['p', 'q', 'r'].map((p) => post(h.url, '/api/embeddings', { model: MODEL, prompt: p })));
      expect(upstreamCalls(h, '/api/embed') - mid).toBeLessThan(3);
      for (const [i, r] of got.entries()) expect(r.body).toEqual({ embedding: (await direct(h, [['p', 'q', 'r'][i]]))[0] });
    } finally {
      await h.close();
    }
  });
});

describe('embedding autobatch: every caller leaving', () => {
  it('cancels the upstream call, and the slot comes back', async () => {
    // A slow call (100 s at the harness's time scale 0.02: 2 s), so that it is still upstream when they leave.
    const h = await startGateway([embedNode('a', { models: [{ name: MODEL, embedCallMs: 100_000 }] })], (c) => {
      c.autobatch.windowMs = 20;
    });
    try {
      const ac = new AbortController();
      const calls = ['x', 'y'].map((t) =>
        post(h.url, '/api/embed', { model: MODEL, input: t }, ac.signal).then(
          () => 'answered',
          () => 'aborted',
        ),
      );
      await eventually(() => h.sim.state()[0].inferenceInFlight === 1, 5_000, 'the combined call upstream');
      ac.abort();
      expect(await Promise.all(calls)).toEqual(['aborted', 'aborted']);
      await eventually(() => h.sim.state()[0].inferenceInFlight === 0, 5_000, 'the upstream call cancelled');
      expect(h.sim.state()[0].cancelled).toBe(1);
      await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 5_000, 'in-flight back to 0');
    } finally {
      await h.close();
    }
  });
});

describe('embedding autobatch: a busy pool', () => {
  it('requests that arrive while a call holds the only slot go on gathering, and leave as one call when it ends', async () => {
    // The first call takes 50 s at the time scale 0.02 (1 s real); the window is 5 ms.
    const h = await startGateway([embedNode('a', { numParallel: 1, models: [{ name: MODEL, embedCallMs: 50_000 }] })], (c) => {
      c.autobatch.windowMs = 5;
    });
    try {
      const first = post(h.url, '/api/embed', { model: MODEL, input: 'first' });
      await eventually(() => h.sim.state()[0].inferenceInFlight === 1, 5_000, 'the first call upstream');
      // Ten more, spread over many windows while the slot is held.
      const later: ReturnType<typeof post>[] = [];
      for (let i = 0; i < 10; i++) {
        later.push(post(h.url, '/api/embed', { model: MODEL, input: `later ${i}` }));
        await new Promise((r) => setTimeout(r, 20));
      }
      const answers = await Promise.all([first, ...later]);
      expect(answers.map((a) => a.status)).toEqual(Array(11).fill(200));
      expect(upstreamCalls(h, '/api/embed')).toBe(2);
      expect(answers.slice(1).map((a) => a.headers.get('x-ollama-ring-coalesced'))).toEqual(Array(10).fill('10'));
      const reference = await direct(
        h,
        Array.from({ length: 10 }, (_, i) => `later ${i}`),
      );
      for (const [i, a] of answers.slice(1).entries()) expect(a.body.embeddings).toEqual([reference[i]]);
      await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 5_000, 'in-flight back to 0');
    } finally {
      await h.close();
    }
  });
});

describe('embedding autobatch: limits', () => {
  it('never makes a combined call longer than validation.maxPromptLength', async () => {
    const h = await startGateway([embedNode('a')], (c) => {
      c.autobatch.windowMs = 100;
      c.validation.maxPromptLength = 50;
    });
    try {
      const texts = ['a'.repeat(20), 'b'.repeat(20), 'c'.repeat(20), 'd'.repeat(20)];
      const got = await Promise.all(texts.map((t) => post(h.url, '/api/embed', { model: MODEL, input: t })));
      for (const [i, r] of got.entries()) {
        expect(r.status).toBe(200);
        // Two of 20 characters fit under 50, three do not.
        expect(Number(r.headers.get('x-ollama-ring-coalesced'))).toBeLessThanOrEqual(2);
        expect(r.body.embeddings).toEqual(await direct(h, [texts[i]]));
      }
    } finally {
      await h.close();
    }
  });
});

describe('embedding autobatch: splitting', () => {
  it('splits a large input across the nodes that have the model loaded, and keeps the order', async () => {
    const h = await startGateway([embedNode('a'), embedNode('b'), embedNode('c')], (c) => {
      c.autobatch.splitAbove = 8;
      c.autobatch.minPartSize = 4;
    });
    try {
      const input = Array.from({ length: 30 }, (_, i) => `line ${i}`);
      const before = upstreamCalls(h, '/api/embed');
      const r = await post(h.url, '/api/embed', { model: MODEL, input });
      expect(r.status).toBe(200);
      expect(upstreamCalls(h, '/api/embed') - before).toBe(3);
      expect(new Set(r.headers.get('x-ollama-ring-node')!.split(',')).size).toBeGreaterThan(1);
      expect(r.body.embeddings).toEqual(await direct(h, input));
      await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 5_000, 'in-flight back to 0');
    } finally {
      await h.close();
    }
  });
});

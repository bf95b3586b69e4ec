/**
 * Section 8 behaviour measured from the outside, with tolerances wide enough for a busy two-core
 * machine: lower bounds are what the simulation guarantees, upper bounds leave hundreds of ms.
 */
import { Ticker, startSimPool, type SimModelConfig, type TickScheduler, type TickTask } from '@ollama-ring/ollama-sim';
import { eventually, node, postJson, sleep, withPool } from './helpers';

interface Final {
  total_duration: number;
  load_duration: number;
  prompt_eval_count: number;
  prompt_eval_duration: number;
  eval_count: number;
  eval_duration: number;
  done_reason: string;
}

const ms = (ns: number): number => ns / 1e6;

function model(name: string, extra: Partial<SimModelConfig> = {}): SimModelConfig {
  return { name, loadMs: 0, responseTokens: { min: 20, max: 20 }, ...extra };
}

async function generate(url: string, body: Record<string, unknown>, init: RequestInit = {}): Promise<Final & { wall: number; end: number }> {
  const t0 = performance.now();
  const res = await postJson(url + '/api/generate', { stream: false, prompt: 'hello', ...body }, init);
  const json = (await res.json()) as Final & { error?: string };
  if (res.status !== 200) throw new Error(`${res.status} ${json.error}`);
  const end = performance.now();
  return { ...json, wall: end - t0, end };
}

async function psNames(url: string): Promise<string[]> {
  const ps = (await (await fetch(url + '/api/ps')).json()) as { models: { name: string }[] };
  return ps.models.map((m) => m.name).sort();
}

describe('slots', () => {
  it('numParallel=1 serialises concurrent requests; numParallel=3 runs them together', async () => {
    const cfg = (numParallel: number) => ({ nodes: [node({ numParallel, tokensPerSec: 100, models: [model('m')] })] });
    await withPool(cfg(1), async (pool) => {
      const url = pool.nodes[0].url;
      const t0 = performance.now();
      const rs = await Promise.all([0, 1, 2].map(() => generate(url, { model: 'm' })));
      const ends = rs.map((r) => r.end - t0).sort((a, b) => a - b);
      // Each takes 20 tokens at 100 tok/s = 200 ms, one after the other.
      expect(ends[0]).toBeGreaterThanOrEqual(190);
      expect(ends[1] - ends[0]).toBeGreaterThanOrEqual(180);
      expect(ends[2] - ends[1]).toBeGreaterThanOrEqual(180);
      const last = rs.reduce((a, b) => (a.total_duration > b.total_duration ? a : b));
      // The wait for the slot is in total_duration but not in load_duration (the runner was there).
      expect(ms(last.total_duration)).toBeGreaterThan(2.5 * ms(last.eval_duration));
      expect(ms(last.load_duration)).toBeLessThan(100);
    });
    await withPool(cfg(3), async (pool) => {
      const t0 = performance.now();
      await Promise.all([0, 1, 2].map(() => generate(pool.nodes[0].url, { model: 'm' })));
      expect(performance.now() - t0).toBeLessThan(480);
    });
  });

  it('reports eval and prompt durations that match the configured speeds', () =>
    withPool({ nodes: [node({ tokensPerSec: 200, promptTokensPerSec: 1000, models: [model('m', { responseTokens: { min: 40, max: 40 } })] })] }, async (pool) => {
      // 400 characters ≈ 100 prompt tokens (+ a few of template) at 1000 tok/s ≈ 100 ms of prefill.
      const r = await generate(pool.nodes[0].url, { model: 'm', prompt: 'x'.repeat(400) });
      expect(r.eval_count).toBe(40);
      const rate = r.eval_count / (r.eval_duration / 1e9);
      expect(rate).toBeGreaterThan(170);
      expect(rate).toBeLessThanOrEqual(201);
      expect(r.prompt_eval_count).toBeGreaterThanOrEqual(100);
      expect(ms(r.prompt_eval_duration)).toBeGreaterThanOrEqual(95);
      expect(ms(r.prompt_eval_duration)).toBeLessThan(400);
      expect(ms(r.total_duration)).toBeGreaterThanOrEqual(ms(r.eval_duration) + ms(r.prompt_eval_duration));
    }));
});

describe('token pacing', () => {
  /** A clock whose first wake-up of every task runs `lateMs` late, as a busy event loop's would. */
  function lateFirstWake(lateMs: number): TickScheduler {
    const inner = new Ticker();
    const seen = new WeakSet<TickTask>();
    return {
      now: () => inner.now(),
      sleep: (ms, signal) => inner.sleep(ms, signal),
      cancel: (task) => inner.cancel(task),
      schedule(task, due) {
        if (seen.has(task)) {
          inner.schedule(task, due);
          return;
        }
        seen.add(task);
        // The task keeps its own due time; only the wake-up comes late.
        task.tickDue = due;
        inner.schedule({ tickDue: 0, tickIndex: -1, onTick: (now) => task.onTick(now) }, due + lateMs);
      },
    };
  }

  it('paces tokens from when prefill was due to end, so a late wake-up is not carried into every token', async () => {
    // 20 tokens at 100 tok/s: 200 ms of generation. The wake-up that ends prefill runs 100 ms late;
    // paced from that wake-up the answer would take 300 ms, paced from the schedule it takes 200.
    const pool = await startSimPool({ nodes: [node({ tokensPerSec: 100, models: [model('m')] })] }, { ticker: lateFirstWake(100) });
    try {
      const r = await generate(pool.nodes[0].url, { model: 'm' });
      expect(r.eval_count).toBe(20);
      expect(ms(r.total_duration)).toBeGreaterThanOrEqual(195);
      expect(ms(r.total_duration)).toBeLessThan(270);
    } finally {
      await pool.close();
    }
  });
});

describe('loads', () => {
  it('the first request to a cold model pays loadMs; the next does not', () =>
    withPool({ timeScale: 0.1, nodes: [node({ tokensPerSec: 1000, models: [model('m', { loadMs: 3000 })] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const first = await generate(url, { model: 'm' });
      expect(ms(first.load_duration)).toBeGreaterThanOrEqual(295);
      // Scaled (0.1 × 3 s), with room for a loaded CI machine: well under the unscaled 3 s.
      expect(ms(first.load_duration)).toBeLessThan(1_500);
      expect(first.wall).toBeGreaterThanOrEqual(295);
      const second = await generate(url, { model: 'm' });
      expect(ms(second.load_duration)).toBeLessThan(150);
      expect(pool.node('n1').state().loadsStarted).toBe(1);
    }));

  it('loads one model at a time, and one copy for concurrent requests to the same model', () =>
    withPool({ timeScale: 0.1, nodes: [node({ tokensPerSec: 1000, models: [model('a', { loadMs: 2000 }), model('b', { loadMs: 2000 })] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const [a1, a2, b] = await Promise.all([generate(url, { model: 'a' }), generate(url, { model: 'a' }), generate(url, { model: 'b' })]);
      expect(pool.node('n1').state().loadsStarted).toBe(2);
      // The first a to arrive pays the whole load; the other waits on the same copy, less however much
      // later it arrived (a few ms, more on a loaded machine).
      const aLoads = [ms(a1.load_duration), ms(a2.load_duration)];
      expect(Math.max(...aLoads)).toBeGreaterThanOrEqual(195);
      expect(Math.min(...aLoads)).toBeGreaterThanOrEqual(100);
      // b waits for a's load to finish before its own starts: its own 200 ms, plus a's less b's later
      // arrival (allowing up to 50 ms of it on a loaded machine).
      expect(ms(b.load_duration)).toBeGreaterThanOrEqual(350);
      expect(ms(b.load_duration)).toBeLessThan(1200);
    }));

  it('reloads when num_ctx differs from the loaded runner, including back to the default', () =>
    withPool({ timeScale: 0.1, nodes: [node({ tokensPerSec: 1000, models: [model('m', { loadMs: 1500 })] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      await generate(url, { model: 'm' });
      const big = await generate(url, { model: 'm', options: { num_ctx: 8192 } });
      expect(ms(big.load_duration)).toBeGreaterThanOrEqual(145);
      const ps = (await (await fetch(url + '/api/ps')).json()) as { models: { context_length: number }[] };
      expect(ps.models.map((m) => m.context_length)).toEqual([8192]);
      const same = await generate(url, { model: 'm', options: { num_ctx: 8192 } });
      expect(ms(same.load_duration)).toBeLessThan(60);
      const back = await generate(url, { model: 'm' });
      expect(ms(back.load_duration)).toBeGreaterThanOrEqual(145);
      expect(pool.node('n1').state().loadsStarted).toBe(3);
    }));

  it('evicts the least recently used idle model at maxLoadedModels', () =>
    withPool({ nodes: [node({ maxLoadedModels: 2, models: [model('a'), model('b'), model('c')] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      await generate(url, { model: 'a' });
      await generate(url, { model: 'b' });
      await generate(url, { model: 'a' });
      expect(await psNames(url)).toEqual(['a:latest', 'b:latest']);
      await generate(url, { model: 'c' });
      expect(await psNames(url)).toEqual(['a:latest', 'c:latest']);
      expect(pool.node('n1').state().evictions).toBe(1);
    }));

  it('drains a busy model before evicting it when no loaded model is idle', () =>
    withPool({ nodes: [node({ maxLoadedModels: 1, tokensPerSec: 100, models: [model('a'), model('b', { responseTokens: { min: 2, max: 2 } })] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const t0 = performance.now();
      const a = generate(url, { model: 'a' });
      await eventually(() => pool.node('n1').state().loaded.length === 1);
      const b = await generate(url, { model: 'b' });
      const aDone = await a;
      // b could only load once a's 200 ms generation had finished.
      expect(b.end).toBeGreaterThanOrEqual(aDone.end);
      expect(b.end - t0).toBeGreaterThanOrEqual(190);
      expect(await psNames(url)).toEqual(['b:latest']);
    }));

  it('answers 503 with the exact text once maxQueue cold loads are waiting; the loading model is not queued', () =>
    withPool(
      { timeScale: 0.1, nodes: [node({ maxQueue: 1, tokensPerSec: 1000, models: [model('a', { loadMs: 3000 }), model('b', { loadMs: 1000 }), model('c')] })] },
      async (pool) => {
        const url = pool.nodes[0].url;
        const sim = pool.node('n1');
        const a = generate(url, { model: 'a' });
        await eventually(() => sim.state().loadsStarted === 1);
        const b = generate(url, { model: 'b' });
        await eventually(() => sim.state().queued === 1);
        // A second request for the model being loaded attaches to that load and takes no queue place.
        const a2 = generate(url, { model: 'a' });
        const c = await postJson(url + '/api/generate', { model: 'c', prompt: 'x', stream: false });
        expect(c.status).toBe(503);
        expect(c.headers.get('content-type')).toBe('application/json; charset=utf-8');
        expect(await c.text()).toBe('{"error":"server busy, please try again.  maximum pending requests exceeded"}');
        const done = await Promise.all([a, b, a2]);
        expect(done.map((r) => r.done_reason)).toEqual(['stop', 'stop', 'stop']);
        expect(sim.state().byStatus['503']).toBe(1);
      },
    ));

  it('a client that leaves while queued for a load or a slot leaves the queue', () =>
    withPool({ timeScale: 0.1, nodes: [node({ numParallel: 1, tokensPerSec: 10, models: [model('a', { loadMs: 3000 }), model('b')] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const sim = pool.node('n1');
      const a = generate(url, { model: 'a' });
      await eventually(() => sim.state().loadsStarted === 1);
      const gone = new AbortController();
      const b = generate(url, { model: 'b' }, { signal: gone.signal }).catch((e: Error) => e.name);
      expect(await eventually(() => sim.state().queued === 1)).toBe(true);
      gone.abort();
      expect(await b).toBe('AbortError');
      expect(await eventually(() => sim.state().queued === 0)).toBe(true);
      await a;

      const holder = generate(url, { model: 'a' });
      await eventually(() => sim.state().loaded[0]?.slotsInUse === 1);
      const waiter = new AbortController();
      const w = generate(url, { model: 'a' }, { signal: waiter.signal }).catch((e: Error) => e.name);
      expect(await eventually(() => sim.state().loaded[0]?.slotWaiters === 1)).toBe(true);
      waiter.abort();
      expect(await w).toBe('AbortError');
      expect(await eventually(() => sim.state().loaded[0]?.slotWaiters === 0)).toBe(true);
      await holder;
      expect(await eventually(() => sim.state().inFlight === 0)).toBe(true);
      expect(sim.state().loadsStarted).toBe(1);
      expect(sim.state().cancelled).toBe(2);
    }));
});

describe('keep-alive and time scale', () => {
  it('unloads an idle model when keep_alive expires (scaled), and /api/ps shows the expiry', () =>
    withPool({ timeScale: 0.1, nodes: [node({ keepAlive: '3s', tokensPerSec: 1000, models: [model('m'), model('n')] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      await generate(url, { model: 'm' });
      await generate(url, { model: 'n', keep_alive: '1m' });
      const ps = (await (await fetch(url + '/api/ps')).json()) as { models: { name: string; expires_at: string }[] };
      // Sorted by expiry, latest first: n (6 s scaled) before m (300 ms scaled).
      expect(ps.models.map((m) => m.name)).toEqual(['n:latest', 'm:latest']);
      const left = (s: string): number => Date.parse(s) - Date.now();
      expect(left(ps.models[0].expires_at)).toBeGreaterThan(5000);
      expect(left(ps.models[1].expires_at)).toBeGreaterThan(100);
      expect(left(ps.models[1].expires_at)).toBeLessThanOrEqual(300);
      expect(await eventually(async () => (await psNames(url)).join() === 'n:latest', 2000)).toBe(true);
    }));

  it('a generation with keep_alive 0 unloads its model as soon as it is done', () =>
    withPool({ nodes: [node({ models: [model('m')] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      await generate(url, { model: 'm', keep_alive: 0 });
      expect(await psNames(url)).toEqual([]);
    }));

  it('timeScale compresses wall time and the reported durations alike', async () => {
    const run = (timeScale: number) =>
      withPool({ timeScale, nodes: [node({ tokensPerSec: 50, models: [model('m', { loadMs: 1000 })] })] }, (pool) => generate(pool.nodes[0].url, { model: 'm' }));
    const slow = await run(1);
    const fast = await run(0.1);
    // 1 s load + 20 tokens at 50 tok/s = 1.4 s at scale 1, 140 ms at scale 0.1.
    expect(slow.wall).toBeGreaterThanOrEqual(1390);
    expect(fast.wall).toBeGreaterThanOrEqual(139);
    expect(fast.wall).toBeLessThan(700);
    expect(ms(slow.eval_duration)).toBeGreaterThanOrEqual(375);
    expect(ms(fast.eval_duration)).toBeGreaterThanOrEqual(37);
    expect(ms(fast.eval_duration)).toBeLessThan(ms(slow.eval_duration) / 3);
    expect(ms(fast.load_duration)).toBeLessThan(ms(slow.load_duration) / 3);
  });

  it('a preloaded model is in /api/ps from the start and pays no load', () =>
    withPool({ timeScale: 0.1, nodes: [node({ models: [model('m', { loadMs: 5000 })], preload: ['m'] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      expect(await psNames(url)).toEqual(['m:latest']);
      expect(ms((await generate(url, { model: 'm' })).load_duration)).toBeLessThan(60);
      await sleep(1);
    }));
});

describe('embedding cost', () => {
  it('a call costs embedCallMs plus embedInputMs per input: one call of ten inputs beats ten calls of one', async () => {
    const embedder = { name: 'embedder', loadMs: 0, capabilities: ['embedding' as const], embeddingLength: 8, promptTokensPerSec: 1e9, embedCallMs: 400, embedInputMs: 20 };
    await withPool({ nodes: [node({ models: [embedder], preload: ['embedder'] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const embed = async (path: string, body: Record<string, unknown>): Promise<number> => {
        const t0 = performance.now();
        const res = await postJson(url + path, { model: 'embedder', ...body });
        expect(res.status).toBe(200);
        await res.json();
        return performance.now() - t0;
      };
      const one = await embed('/api/embed', { input: 'a' });
      const ten = await embed('/api/embed', { input: Array.from({ length: 10 }, (_, i) => `text ${i}`) });
      const legacy = await embed('/api/embeddings', { prompt: 'a' });
      const openai = await embed('/v1/embeddings', { input: ['a', 'b'] });
      // Lower bounds are what the emulator guarantees (400 + 20 ms; 400 + 200 ms; …).
      expect(one).toBeGreaterThanOrEqual(415);
      expect(ten).toBeGreaterThanOrEqual(595);
      expect(legacy).toBeGreaterThanOrEqual(415);
      expect(openai).toBeGreaterThanOrEqual(435);
      // Ten calls of one would take at least 4,200 ms; the one call of ten is far from it.
      expect(ten).toBeLessThan(3_000);
    });
  });
});

/** Every fault mode, set in config or through `/_sim/...`, with its effect as a client sees it. */
import { Ollama } from 'ollama';
import { connect, type Socket } from 'node:net';
import { Client } from 'undici';
import type { SimModelConfig } from '@ollama-ring/ollama-sim';
import { eventually, ndjson, node, postJson, sleep, withPool } from './helpers';

const M: SimModelConfig = { name: 'm', loadMs: 0, responseTokens: { min: 20, max: 20 } };
// A fresh object each time: the ollama client writes `stream` into the request object it is given.
const chat = (): { model: string; messages: { role: string; content: string }[] } => ({ model: 'm', messages: [{ role: 'user', content: 'x' }] });

async function control(url: string, method: string, path: string, body?: unknown): Promise<[number, Record<string, unknown>]> {
  const res = await fetch(url + '/_sim' + path, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return [res.status, (await res.json()) as Record<string, unknown>];
}

/** A request on a fresh connection (no pooled keep-alive socket), so a refusal shows as such. */
async function freshGet(url: string, path: string): Promise<number | string> {
  const c = new Client(url);
  try {
    const r = await c.request({ path, method: 'GET' });
    await r.body.dump();
    return r.statusCode;
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  } finally {
    await c.close().catch(() => undefined);
  }
}

describe('fault injection', () => {
  it('failNext fails exactly the next N matching requests with the status and message', () =>
    withPool({ nodes: [node({ models: [M] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const [status] = await control(url, 'POST', '/faults', { failNext: { count: 2, status: 500, message: 'injected', paths: ['/api/chat'] } });
      expect(status).toBe(200);
      expect((await fetch(url + '/api/tags')).status).toBe(200);
      const ollama = new Ollama({ host: url });
      for (let i = 0; i < 2; i++) await expect(ollama.chat(chat())).rejects.toMatchObject({ status_code: 500, error: 'injected' });
      expect((await ollama.chat(chat())).done).toBe(true);
      expect(pool.node('n1').state().faultsInjected).toEqual({ failNext: 2 });
      expect(pool.node('n1').faults()).toEqual({});
    }));

  it('failNext without paths hits any route, a 503 defaulting to the busy text', () =>
    withPool({ nodes: [node({ models: [M], faults: { failNext: { count: 1, status: 503 } } })] }, async (pool) => {
      const res = await fetch(pool.nodes[0].url + '/api/version');
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ error: 'server busy, please try again.  maximum pending requests exceeded' });
      expect((await fetch(pool.nodes[0].url + '/api/version')).status).toBe(200);
    }));

  it('errorMidStream: in-band error after K tokens; a 500 when nothing was sent or not streaming', () =>
    withPool({ nodes: [node({ models: [M] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const sim = pool.node('n1');
      sim.setFaults({ errorMidStream: { afterTokens: 0, message: 'early', count: 1 } });
      await expect(new Ollama({ host: url }).chat({ ...chat(), stream: true })).rejects.toMatchObject({ status_code: 500, error: 'early' });
      sim.setFaults({ errorMidStream: { afterTokens: 5, message: 'late', count: 1 } });
      const res = await postJson(url + '/api/chat', { ...chat(), stream: false });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: 'late' });
      // Used up: the next one is clean.
      expect((await new Ollama({ host: url }).chat(chat())).done).toBe(true);
    }));

  it('hang: the request is accepted and never answered, until the client gives up', () =>
    withPool({ nodes: [node({ models: [M], faults: { hang: { paths: ['/api/chat'] } } })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const sim = pool.node('n1');
      expect((await fetch(url + '/api/version')).status).toBe(200);
      const err = await postJson(url + '/api/chat', chat(), { signal: AbortSignal.timeout(300) }).catch((e: Error) => e.name);
      expect(err).toBe('TimeoutError');
      expect(await eventually(() => sim.state().inFlight === 0)).toBe(true);
      expect(sim.state().faultsInjected.hang).toBe(1);
    }));

  it('hang after K tokens stalls the stream and holds the slot until the client leaves', () =>
    withPool({ nodes: [node({ numParallel: 1, models: [M], faults: { hang: { afterTokens: 2, count: 1 } } })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const sim = pool.node('n1');
      const ac = new AbortController();
      const res = await postJson(url + '/api/chat', chat(), { signal: ac.signal });
      const reader = res.body!.getReader();
      let text = '';
      while (text.split('\n').length < 3) {
        const { done, value } = await reader.read();
        if (done) throw new Error(`stream ended early after: ${text}`);
        text += new TextDecoder().decode(value);
      }
      // The read stays pending until the abort below rejects it; handle that rejection here.
      const more = await Promise.race([
        reader.read().then(
          () => 'data',
          () => 'aborted',
        ),
        sleep(300).then(() => 'silence'),
      ]);
      expect(more).toBe('silence');
      expect(sim.state().loaded[0].slotsInUse).toBe(1);
      ac.abort();
      expect(await eventually(() => sim.state().loaded[0].slotsInUse === 0)).toBe(true);
      expect((await new Ollama({ host: url }).chat(chat())).done).toBe(true);
    }));

  it('slowdown multiplies generation and load time', () =>
    withPool({ nodes: [node({ tokensPerSec: 100, models: [{ ...M, loadMs: 100 }] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const timed = async (): Promise<{ wall: number; load: number }> => {
        const t0 = performance.now();
        const r = (await (await postJson(url + '/api/chat', { ...chat(), stream: false })).json()) as { load_duration: number };
        return { wall: performance.now() - t0, load: r.load_duration / 1e6 };
      };
      pool.node('n1').setFaults({ slowdown: 3 });
      const slow = await timed();
      // 100 ms load + 20 tokens at 100 tok/s, all three times slower: 900 ms.
      expect(slow.wall).toBeGreaterThanOrEqual(880);
      expect(slow.load).toBeGreaterThanOrEqual(295);
      pool.node('n1').setFaults({ slowdown: null });
      const normal = await timed();
      expect(normal.wall).toBeLessThan(slow.wall / 2);
    }));

  it('closeMidStream destroys the socket after K tokens', () =>
    withPool({ nodes: [node({ models: [M], faults: { closeMidStream: { afterTokens: 3 } } })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const res = await postJson(url + '/api/generate', { model: 'm', prompt: 'x' });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      let text = '';
      const err = await (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return 'clean end';
          text += new TextDecoder().decode(value);
        }
      })().catch((e: Error) => e.message);
      expect(err).toBe('terminated');
      expect(text.trim().split('\n')).toHaveLength(3);
      const seen: unknown[] = [];
      const iterate = async (): Promise<void> => {
        for await (const c of await new Ollama({ host: url }).chat({ ...chat(), stream: true })) seen.push(c);
      };
      await expect(iterate()).rejects.toThrow();
      expect(seen).toHaveLength(3);
    }));

  it('failLoad makes the next model load fail with a 500', () =>
    withPool({ nodes: [node({ models: [M], faults: { failLoad: { count: 1, message: 'llama runner process has terminated: signal: killed' } } })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const res = await postJson(url + '/api/chat', { ...chat(), stream: false });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: 'llama runner process has terminated: signal: killed' });
      expect(pool.node('n1').state().loaded).toEqual([]);
      expect((await postJson(url + '/api/chat', { ...chat(), stream: false })).status).toBe(200);
    }));

  it('tagsOverride and psOverride flip what /api/tags, /v1/models and /api/ps report', () =>
    withPool({ nodes: [node({ models: [M] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const names = async (path: string): Promise<string[]> => ((await (await fetch(url + path)).json()) as { models: { name: string }[] }).models.map((m) => m.name);
      await control(url, 'POST', '/faults', { tagsOverride: ['ghost:1b', 'm'], psOverride: ['ghost:1b'] });
      expect(await names('/api/tags')).toEqual(['ghost:1b', 'm:latest']);
      expect(await names('/api/ps')).toEqual(['ghost:1b']);
      // Only the reports change: the node still cannot run a model it does not have.
      expect((await postJson(url + '/api/chat', { model: 'ghost:1b', messages: [] })).status).toBe(404);
      await control(url, 'POST', '/faults', { tagsOverride: [] });
      expect(await names('/api/tags')).toEqual([]);
      expect(await (await fetch(url + '/v1/models')).json()).toEqual({ object: 'list', data: null });
      await control(url, 'DELETE', '/faults');
      expect(await names('/api/tags')).toEqual(['m:latest']);
      expect(await names('/api/ps')).toEqual([]);
    }));
});

describe('refusing connections', () => {
  it('stops listening and comes back after forMs', () =>
    withPool({ nodes: [node({ models: [M] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const [status] = await control(url, 'POST', '/refuse', { forMs: 400 });
      expect(status).toBe(200);
      expect(await freshGet(url, '/api/version')).toBe('ECONNREFUSED');
      // A pooled keep-alive connection does not get through either.
      await expect(fetch(url + '/api/version')).rejects.toThrow('fetch failed');
      expect(pool.node('n1').state().listening).toBe(false);
      expect(await eventually(async () => (await freshGet(url, '/api/version')) === 200, 3000, 50)).toBe(true);
    }));

  it('a node refusing until told is brought back through a peer, keeping its port', () =>
    withPool({ nodes: [node({ id: 'a', models: [M], faults: { refuse: {} } }), node({ id: 'b', models: [M] })] }, async (pool) => {
      const [a, b] = pool.nodes;
      expect(await freshGet(a.url, '/')).toBe('ECONNREFUSED');
      const [, state] = await control(b.url, 'GET', '/nodes/a/state');
      expect(state).toMatchObject({ id: 'a', listening: false });
      const [status] = await control(b.url, 'POST', '/nodes/a/accept');
      expect(status).toBe(200);
      expect(await freshGet(a.url, '/')).toBe(200);
      // The library API does the same.
      a.refuse();
      expect(await freshGet(a.url, '/')).toBe('ECONNREFUSED');
      await a.accept();
      expect(await freshGet(a.url, '/')).toBe(200);
    }));

  it('in-flight streams survive a refusal; only new connections are refused', () =>
    withPool({ nodes: [node({ tokensPerSec: 100, models: [M] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const pending = postJson(url + '/api/chat', chat()).then(ndjson);
      await eventually(() => pool.node('n1').state().tokens > 2);
      pool.node('n1').refuse(200);
      const lines = await pending;
      expect(lines[lines.length - 1].done).toBe(true);
    }));
});

describe('control API', () => {
  it('reports state, validates patches, and resets', () =>
    withPool({ nodes: [node({ id: 'a', models: [M] }), node({ id: 'b', models: [M] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      await new Ollama({ host: url }).chat(chat());
      const [, st] = await control(url, 'GET', '/state');
      expect(st).toMatchObject({
        id: 'a',
        url,
        listening: true,
        inFlight: 0,
        queued: 0,
        requests: 1,
        completed: 1,
        cancelled: 0,
        tokens: 20,
        loadsStarted: 1,
        models: ['m:latest'],
      });
      expect(st.byRoute).toEqual({ 'POST /api/chat': 1 });
      expect(st.byStatus).toEqual({ '200': 1 });
      expect((st.loaded as { model: string; state: string; refCount: number }[])[0]).toMatchObject({ model: 'm:latest', state: 'ready', refCount: 0 });

      const [bad, err] = await control(url, 'POST', '/faults', { failNext: { count: 1 }, slowdown: -1, bogus: 1 });
      expect(bad).toBe(400);
      expect(err.error).toEqual(expect.stringContaining("faults/failNext must have required property 'status'"));
      expect(err.error).toEqual(expect.stringContaining("has unknown field 'bogus'"));
      expect(pool.node('a').faults()).toEqual({});

      const [, set] = await control(url, 'POST', '/nodes/b/faults', { slowdown: 2 });
      expect(set).toEqual({ slowdown: 2 });
      expect(pool.node('b').faults()).toEqual({ slowdown: 2 });
      const [, cleared] = await control(url, 'POST', '/nodes/b/faults', { slowdown: null });
      expect(cleared).toEqual({});

      const [, all] = await control(url, 'GET', '/pool');
      expect((all.nodes as { id: string }[]).map((n) => n.id)).toEqual(['a', 'b']);
      const [, reset] = await control(url, 'POST', '/reset');
      expect(reset).toMatchObject({ requests: 0, completed: 0, loaded: [] });
      expect((await control(url, 'GET', '/nope'))[0]).toBe(404);
      expect((await control(url, 'GET', '/nodes/zzz/state'))[0]).toBe(404);
      // Control calls are not counted as Ollama requests.
      expect(pool.node('a').state().requests).toBe(0);
    }));

  it('counts inference requests in flight and their peak, probes and listings apart; a stats reset restarts the peak', () =>
    withPool({ nodes: [node({ models: [M] })] }, async (pool) => {
      const url = pool.nodes[0].url;
      const sim = pool.node('n1');
      sim.setFaults({ hang: { count: 2, paths: ['/api/chat', '/v1/chat/completions'] } });
      const ac = new AbortController();
      const held = [postJson(url + '/api/chat', chat(), { signal: ac.signal }), postJson(url + '/v1/chat/completions', chat(), { signal: ac.signal })].map((p) =>
        p.catch(() => undefined),
      );
      expect(await eventually(() => sim.state().inferenceInFlight === 2)).toBe(true);
      expect((await fetch(url + '/api/tags')).status).toBe(200);
      expect(sim.state()).toMatchObject({ inFlight: 2, inferenceInFlight: 2, peakInferenceInFlight: 2 });
      ac.abort();
      await Promise.all(held);
      expect(await eventually(() => sim.state().inferenceInFlight === 0)).toBe(true);
      expect(sim.state().peakInferenceInFlight).toBe(2);
      sim.reset({ models: false });
      expect(sim.state().peakInferenceInFlight).toBe(0);
      await (await postJson(url + '/api/chat', { ...chat(), stream: false })).json();
      expect(sim.state()).toMatchObject({ inferenceInFlight: 0, peakInferenceInFlight: 1 });
    }));

  it('a client that hangs up leaves the counts before a request that arrives with its hang-up is counted', () =>
    withPool({ nodes: [node({ models: [M], tokensPerSec: 5 })] }, async (pool) => {
      const sim = pool.node('n1');
      const body = JSON.stringify({ ...chat(), stream: true });
      const raw = `POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      const open = async (): Promise<Socket> => {
        const s = connect({ port: pool.nodes[0].port, host: '127.0.0.1' });
        await new Promise<void>((r) => s.once('connect', () => r()));
        return s;
      };
      const [a, b] = [await open(), await open()];
      a.write(raw);
      await new Promise<void>((r) => a.once('data', () => r()));
      sim.reset({ faults: false, models: false });
      // A balancer that frees a slot when its client leaves sends the next request at once: the
      // node sees the hang-up and the new request in the same turn of its event loop.
      a.destroy();
      b.write(raw);
      await new Promise<void>((r) => b.once('data', () => r()));
      expect(sim.state()).toMatchObject({ inferenceInFlight: 1, peakInferenceInFlight: 1, cancelled: 1 });
      b.destroy();
      expect(await eventually(() => sim.state().inferenceInFlight === 0)).toBe(true);
    }));
});

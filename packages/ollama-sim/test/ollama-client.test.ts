/**
 * The official `ollama` npm client, unchanged, against the sim: every native endpoint it wraps, and
 * the errors it must see (ResponseError with status_code before the stream, a plain Error inside it).
 */
import { Ollama } from 'ollama';
import { EMBEDDER, THINKER, TINY, l2norm, withNode } from './helpers';

const CATALOG = { models: [{ name: 'pullable:3b', parameterSize: '3B', quantization: 'Q4_K_M' }] };

async function expectResponseError(p: Promise<unknown>, status: number, message: string): Promise<void> {
  await expect(p).rejects.toMatchObject({ name: 'ResponseError', status_code: status, error: message });
}

describe('official ollama client', () => {
  it('reads version, list, show and ps', () =>
    withNode({}, async (url) => {
      const ollama = new Ollama({ host: url });
      expect(await ollama.version()).toEqual({ version: '0.33.0' });

      const list = await ollama.list();
      expect(list.models.map((m) => m.name)).toEqual(['tiny:latest', 'thinker:8b', 'embedder:latest', 'plain:7b']);
      const tiny = list.models[0];
      expect(Object.keys(tiny)).toEqual(['name', 'model', 'modified_at', 'size', 'digest', 'details']);
      expect(tiny.digest).toMatch(/^[0-9a-f]{64}$/);
      expect(tiny.details).toEqual({ parent_model: '', format: 'gguf', family: 'llama', families: ['llama'], parameter_size: '7B', quantization_level: 'Q4_K_M' });
      expect(Number.isNaN(Date.parse(tiny.modified_at as unknown as string))).toBe(false);

      const show = await ollama.show({ model: 'thinker:8b' });
      expect(show.capabilities).toEqual(['completion', 'tools', 'thinking']);
      expect(show.details.family).toBe('qwen3');
      // The client types model_info as a Map; on the wire it is a plain object.
      expect((show.model_info as unknown as Record<string, unknown>)['qwen3.context_length']).toBe(131072);

      expect((await ollama.ps()).models).toEqual([]);
      await ollama.generate({ model: 'tiny', prompt: 'hi' });
      const ps = await ollama.ps();
      expect(ps.models).toHaveLength(1);
      expect(ps.models[0]).toMatchObject({ name: 'tiny:latest', model: 'tiny:latest', size_vram: tiny.size, context_length: 4096 });
      const expires = Date.parse(ps.models[0].expires_at as unknown as string);
      // Default keep-alive 5m at timeScale 1.
      expect(expires - Date.now()).toBeGreaterThan(4 * 60_000);
      expect(expires - Date.now()).toBeLessThanOrEqual(5 * 60_000 + 1000);
    }));

  it('generates, streamed and not, with the same deterministic text and full final metrics', () =>
    withNode({}, async (url) => {
      const ollama = new Ollama({ host: url });
      const whole = await ollama.generate({ model: 'tiny', prompt: 'Why is the sky blue?' });
      expect(whole).toMatchObject({ model: 'tiny', done: true, done_reason: 'stop' });
      expect(whole.response?.length).toBeGreaterThan(0);
      for (const k of ['total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration', 'eval_count', 'eval_duration'] as const) {
        expect(whole[k]).toBeGreaterThan(0);
      }
      expect(whole.eval_count).toBeGreaterThanOrEqual(TINY.responseTokens!.min);
      expect(whole.context.length).toBe(whole.prompt_eval_count + whole.eval_count);

      const chunks = [];
      for await (const c of await ollama.generate({ model: 'tiny', prompt: 'Why is the sky blue?', stream: true })) chunks.push(c);
      const last = chunks[chunks.length - 1];
      expect(last.done).toBe(true);
      expect(chunks.slice(0, -1).every((c) => !c.done)).toBe(true);
      expect(chunks.map((c) => c.response).join('')).toBe(whole.response);
      expect(last.eval_count).toBe(chunks.length - 1);
    }));

  it('stops at num_predict with done_reason "length"', () =>
    withNode({}, async (url) => {
      const r = await new Ollama({ host: url }).generate({ model: 'tiny', prompt: 'count', options: { num_predict: 3 } });
      expect(r.done_reason).toBe('length');
      expect(r.eval_count).toBe(3);
    }));

  it('chats, streamed and not, with thinking and tool calls in the right fields', () =>
    withNode({}, async (url) => {
      const ollama = new Ollama({ host: url });
      const plain = await ollama.chat({ model: 'tiny', messages: [{ role: 'user', content: 'hello' }] });
      expect(plain.message.role).toBe('assistant');
      expect(plain.message.content.length).toBeGreaterThan(0);
      expect(plain.message.thinking).toBeUndefined();

      const parts = [];
      for await (const c of await ollama.chat({ model: 'thinker:8b', messages: [{ role: 'user', content: 'hello' }], stream: true })) parts.push(c);
      const thinking = parts.filter((c) => c.message.thinking);
      expect(thinking.length).toBeGreaterThan(0);
      // Thinking comes first, then the answer.
      const firstContent = parts.findIndex((c) => c.message.content !== '');
      expect(firstContent).toBeGreaterThan(parts.indexOf(thinking[thinking.length - 1]));
      expect(parts[parts.length - 1].done_reason).toBe('stop');

      const noThink = await ollama.chat({ model: 'thinker:8b', messages: [{ role: 'user', content: 'hello' }], think: false });
      expect(noThink.message.thinking).toBeUndefined();

      const tools = [
        {
          type: 'function',
          function: { name: 'get_weather', description: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
        },
      ];
      const called = await ollama.chat({ model: 'tiny', messages: [{ role: 'user', content: 'weather in Paris?' }], tools });
      expect(called.done_reason).toBe('stop');
      expect(called.message.tool_calls).toHaveLength(1);
      const call = called.message.tool_calls![0] as { id?: string; function: { name: string; arguments: Record<string, unknown> } };
      expect(call.id).toMatch(/^[a-z0-9]{8}$/);
      expect(call.function.name).toBe('get_weather');
      expect(typeof call.function.arguments.city).toBe('string');

      const answered = await ollama.chat({
        model: 'tiny',
        messages: [
          { role: 'user', content: 'weather in Paris?' },
          { role: 'assistant', content: '', tool_calls: called.message.tool_calls },
          { role: 'tool', content: '21 degrees', tool_name: 'get_weather' },
        ],
        tools,
      });
      expect(answered.message.tool_calls).toBeUndefined();
      expect(answered.message.content.length).toBeGreaterThan(0);
    }));

  it('embeds with deterministic L2-normalised vectors, and the legacy endpoint unnormalised', () =>
    withNode({}, async (url) => {
      const ollama = new Ollama({ host: url });
      const r = await ollama.embed({ model: 'embedder', input: ['alpha', 'beta'] });
      expect(r.model).toBe('embedder');
      expect(r.embeddings).toHaveLength(2);
      for (const v of r.embeddings) {
        expect(v).toHaveLength(EMBEDDER.embeddingLength!);
        expect(l2norm(v)).toBeCloseTo(1, 6);
      }
      expect(r.embeddings[0]).not.toEqual(r.embeddings[1]);
      expect((await ollama.embed({ model: 'embedder', input: 'alpha' })).embeddings[0]).toEqual(r.embeddings[0]);
      const short = await ollama.embed({ model: 'embedder', input: 'alpha', dimensions: 16 });
      expect(short.embeddings[0]).toHaveLength(16);
      expect(l2norm(short.embeddings[0])).toBeCloseTo(1, 6);

      const legacy = await ollama.embeddings({ model: 'embedder', prompt: 'alpha' });
      expect(legacy.embedding).toHaveLength(EMBEDDER.embeddingLength!);
      expect(Math.abs(l2norm(legacy.embedding) - 1)).toBeGreaterThan(0.01);
      const n = l2norm(legacy.embedding);
      legacy.embedding.forEach((x, i) => expect(x / n).toBeCloseTo(r.embeddings[0][i], 9));
    }));

  it('pulls with a progress stream and without, then lists the model; deletes and copies', () =>
    withNode(
      { models: [TINY] },
      async (url) => {
        const ollama = new Ollama({ host: url });
        const statuses: string[] = [];
        for await (const p of await ollama.pull({ model: 'pullable:3b', stream: true })) statuses.push(p.status);
        expect(statuses[0]).toBe('pulling manifest');
        expect(statuses.slice(-3)).toEqual(['verifying sha256 digest', 'writing manifest', 'success']);
        expect(statuses.some((s) => /^pulling [0-9a-f]{12}$/.test(s))).toBe(true);
        expect((await ollama.list()).models.map((m) => m.name)).toContain('pullable:3b');

        await ollama.delete({ model: 'pullable:3b' });
        expect((await ollama.list()).models.map((m) => m.name)).not.toContain('pullable:3b');
        expect(await ollama.pull({ model: 'pullable:3b' })).toEqual({ status: 'success' });

        await ollama.copy({ source: 'tiny', destination: 'tiny-copy:v2' });
        const names = (await ollama.list()).models.map((m) => m.name);
        expect(names).toEqual(expect.arrayContaining(['tiny:latest', 'tiny-copy:v2', 'pullable:3b']));
        expect((await ollama.generate({ model: 'tiny-copy:v2', prompt: 'x' })).done).toBe(true);
      },
      { ...CATALOG, timeScale: 0.001 },
    ));

  it('sees ResponseError with status_code for failures before the stream, streamed or not', () =>
    withNode({}, async (url) => {
      const ollama = new Ollama({ host: url });
      await expectResponseError(ollama.chat({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }), 404, "model 'nope' not found");
      await expectResponseError(ollama.chat({ model: 'nope', messages: [{ role: 'user', content: 'x' }], stream: true }), 404, "model 'nope' not found");
      await expectResponseError(ollama.generate({ model: '', prompt: 'x' }), 404, "model '' not found");
      await expectResponseError(ollama.show({ model: 'nope' }), 404, "model 'nope:latest' not found");
      await expectResponseError(ollama.embed({ model: 'nope', input: 'x' }), 404, 'model "nope" not found, try pulling it first');
      await expectResponseError(ollama.delete({ model: 'nope' }), 404, "model 'nope' not found");
      await expectResponseError(ollama.chat({ model: 'tiny', messages: [{ role: 'user', content: 'x' }], think: true }), 400, '"tiny" does not support thinking');
      await expectResponseError(ollama.generate({ model: 'embedder', prompt: 'x' }), 400, '"embedder" does not support generate');
      await expectResponseError(ollama.pull({ model: 'not-in-registry' }), 500, 'pull model manifest: file does not exist');
    }));

  it('throws a plain Error from inside the stream for an in-band error, and for a failed pull', () =>
    withNode({ faults: { errorMidStream: { afterTokens: 3, message: 'boom mid-stream' } } }, async (url) => {
      const ollama = new Ollama({ host: url });
      const seen: string[] = [];
      const iterate = async (): Promise<void> => {
        for await (const c of await ollama.generate({ model: 'tiny', prompt: 'x', stream: true })) seen.push(c.response ?? '');
      };
      const err = await iterate().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(Error);
      expect(err?.name).toBe('Error');
      expect(err?.message).toBe('boom mid-stream');
      expect(seen).toHaveLength(3);

      const pulled: string[] = [];
      const pull = async (): Promise<void> => {
        for await (const p of await ollama.pull({ model: 'not-in-registry', stream: true })) pulled.push(p.status);
      };
      await expect(pull()).rejects.toThrow('pull model manifest: file does not exist');
      expect(pulled).toEqual(['pulling manifest']);
    }));

  it('loads and unloads with an empty prompt and keep_alive', () =>
    withNode({}, async (url) => {
      const ollama = new Ollama({ host: url });
      const loaded = await ollama.generate({ model: 'tiny', prompt: '', keep_alive: -1 });
      expect(loaded).toMatchObject({ model: 'tiny', response: '', done: true, done_reason: 'load' });
      expect(loaded.total_duration).toBeUndefined();
      const ps = await ollama.ps();
      expect(ps.models.map((m) => m.name)).toEqual(['tiny:latest']);
      expect(new Date(ps.models[0].expires_at).getUTCFullYear()).toBeGreaterThan(2300);

      const chatLoad = await ollama.chat({ model: 'thinker:8b', messages: [] });
      expect(chatLoad).toMatchObject({ done: true, done_reason: 'load', message: { role: 'assistant', content: '' } });

      const unloaded = await ollama.generate({ model: 'tiny', prompt: '', keep_alive: 0 });
      expect(unloaded.done_reason).toBe('unload');
      const chatUnload = await ollama.chat({ model: 'thinker:8b', messages: [], keep_alive: 0 });
      expect(chatUnload.done_reason).toBe('unload');
      expect((await ollama.ps()).models).toEqual([]);
      // Unloading a model that is not loaded answers the same way.
      expect((await ollama.generate({ model: 'tiny', prompt: '', keep_alive: 0 })).done_reason).toBe('unload');
    }));

  it('abort() stops the stream, and the node frees the slot', () =>
    withNode({ numParallel: 1, tokensPerSec: 200, models: [{ ...TINY, responseTokens: { min: 400, max: 400 } }, THINKER] }, async (url, pool) => {
      const ollama = new Ollama({ host: url });
      const stream = await ollama.generate({ model: 'tiny', prompt: 'long', stream: true });
      let n = 0;
      const it = (async () => {
        for await (const _ of stream) {
          if (++n === 2) stream.abort();
        }
      })();
      await expect(it).rejects.toThrow();
      // The next request gets the only slot at once instead of waiting ~2 s for the first to end.
      const t0 = Date.now();
      const next = await ollama.generate({ model: 'tiny', prompt: 'short', options: { num_predict: 2 } });
      expect(next.done).toBe(true);
      expect(Date.now() - t0).toBeLessThan(1000);
      const state = pool.node('n1').state();
      expect(state.cancelled).toBe(1);
      expect(state.loaded[0].refCount).toBe(0);
    }));
});

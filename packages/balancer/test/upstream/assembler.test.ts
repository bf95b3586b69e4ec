import { Route } from '@ollama-ring/protocol';
import { assemble } from '../../src/upstream/assembler';

const lines = (...objs: object[]) => objs.map((o) => `${JSON.stringify(o)}\n`).join('');
/** The stream cut into pieces of `n` bytes, lines split anywhere (multi-byte characters too). */
const pieces = (text: string, n: number): Buffer[] => {
  const b = Buffer.from(text);
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += n) out.push(b.subarray(i, i + n));
  return out;
};
const metrics = { total_duration: 900, load_duration: 5, prompt_eval_count: 3, prompt_eval_duration: 40, eval_count: 4, eval_duration: 800 };

describe('assemble: Ollama’s non-streamed answer from its stream', () => {
  test('generate: the last chunk, with response and thinking joined, in the node’s key order', () => {
    const stream = lines(
      { model: 'qwen3', created_at: 't1', response: '', thinking: 'Let me ', done: false },
      { model: 'qwen3', created_at: 't2', response: '', thinking: 'think. ', done: false },
      { model: 'qwen3', created_at: 't3', response: 'Héllo', done: false },
      { model: 'qwen3', created_at: 't4', response: ' wörld', done: false },
      { model: 'qwen3', created_at: 't5', response: '', done: true, done_reason: 'stop', context: [1, 2, 3], ...metrics },
    );
    for (const n of [1, 7, 64, 100_000]) {
      const a = assemble(Route.Generate, pieces(stream, n));
      expect(a.ok).toBe(true);
      if (!a.ok) return;
      expect(a.body).toBe(
        JSON.stringify({ model: 'qwen3', created_at: 't5', response: 'Héllo wörld', thinking: 'Let me think. ', done: true, done_reason: 'stop', context: [1, 2, 3], ...metrics }),
      );
    }
  });

  test('generate without thinking has no thinking key, as Ollama omits an empty one', () => {
    const a = assemble(Route.Generate, [Buffer.from(lines({ model: 'm', response: 'a', done: false }, { model: 'm', response: 'b', done: true, done_reason: 'length' }))]);
    expect(a).toMatchObject({ ok: true, body: '{"model":"m","response":"ab","done":true,"done_reason":"length"}' });
  });

  test('chat: content and thinking joined, tool calls of every chunk gathered into the message', () => {
    const call = (name: string) => ({ function: { name, arguments: { city: name } } });
    const stream = lines(
      { model: 'm', created_at: 't1', message: { role: 'assistant', content: '', thinking: 'hmm' }, done: false },
      { model: 'm', created_at: 't2', message: { role: 'assistant', content: 'Sure' }, done: false },
      { model: 'm', created_at: 't3', message: { role: 'assistant', content: '', tool_calls: [call('Paris')] }, done: false },
      { model: 'm', created_at: 't4', message: { role: 'assistant', content: '', tool_calls: [call('Oslo')] }, done: false },
      { model: 'm', created_at: 't5', message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', ...metrics },
    );
    const a = assemble(Route.Chat, pieces(stream, 13));
    expect(a.ok).toBe(true);
    if (!a.ok) return;
    expect(a.body).toBe(
      JSON.stringify({
        model: 'm',
        created_at: 't5',
        message: { role: 'assistant', content: 'Sure', thinking: 'hmm', tool_calls: [call('Paris'), call('Oslo')] },
        done: true,
        done_reason: 'stop',
        ...metrics,
      }),
    );
    expect(a.last).toMatchObject({ eval_count: 4 });
  });

  test('the log probabilities of every chunk are gathered, as Ollama gathers them; none, none', () => {
    const lp = (t: string) => ({ token: t, logprob: -0.5 });
    const a = assemble(Route.Generate, [
      Buffer.from(
        lines(
          { model: 'm', response: 'a', done: false, logprobs: [lp('a')] },
          { model: 'm', response: 'b', done: false, logprobs: [lp('b')] },
          { model: 'm', response: '', done: true },
        ),
      ),
    ]);
    expect(a).toMatchObject({ ok: true, body: JSON.stringify({ model: 'm', response: 'ab', done: true, logprobs: [lp('a'), lp('b')] }) });
    const chat = assemble(Route.Chat, [
      Buffer.from(
        lines(
          { model: 'm', message: { role: 'assistant', content: 'x' }, done: false, logprobs: [lp('x')] },
          { model: 'm', message: { role: 'assistant', content: '' }, done: true },
        ),
      ),
    ]);
    expect(chat.ok && JSON.parse(chat.body)).toMatchObject({ message: { content: 'x' }, logprobs: [lp('x')] });
  });

  test('an error line ends it as that error; a stream that never says done, or is not JSON, is an error too', () => {
    expect(assemble(Route.Generate, [Buffer.from(lines({ model: 'm', response: 'a', done: false }, { error: 'runner died' }))])).toEqual({ ok: false, error: 'runner died' });
    expect(assemble(Route.Generate, [Buffer.from(lines({ model: 'm', response: 'a', done: false }))])).toMatchObject({
      ok: false,
      error: expect.stringContaining('before it was done'),
    });
    expect(assemble(Route.Chat, [Buffer.from('{"model":"m","mess')])).toMatchObject({ ok: false, error: expect.stringContaining('not JSON') });
    expect(assemble(Route.Chat, [])).toMatchObject({ ok: false, error: expect.stringContaining('without sending anything') });
  });
});

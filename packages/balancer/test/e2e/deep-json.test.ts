import { Route } from '@ollama-ring/protocol';
import { InferenceRequest, type ResponseSink, ValidationError } from '../../src';
import { eventually, inFlight, startHarness, type Harness } from './harness';

// The library's side of deeply nested bodies: a request object of any depth Ollama accepts
// (10,000 levels) is sent, a deeper one is refused with a ValidationError (400), and neither
// throws a RangeError out of the pipeline or the scheduler, including when the body is rewritten
// for a fallback model.

/** Arrays nested `levels` deep, built without recursion (JSON.parse does not recurse). */
function nested(levels: number): unknown {
  return JSON.parse('['.repeat(levels) + ']'.repeat(levels)) as unknown;
}

describe('embedded pipeline: deeply nested request bodies', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([{ id: 'a', models: ['llama3.2'], preload: ['llama3.2'] }]);
  });
  afterAll(async () => {
    await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 10_000, 'in-flight back to 0');
    await h.close();
  });

  // The body object is level 1 and `options` level 2: the arrays take the rest.
  const withDepth = (depth: number, extra: Record<string, unknown> = {}, model = 'llama3.2') =>
    InferenceRequest.ofPrompt(model, 'x', { stream: false, options: { num_predict: 2, deep: nested(depth - 2) }, ...extra });

  test.each([100, 9_999, 10_000])('%p levels: sent, and answered', async (depth) => {
    const r = await h.factory.getPipeline().submit(withDepth(depth));
    expect(r.body.done).toBe(true);
  });

  test.each([10_001, 100_000])('%p levels: a ValidationError, 400', async (depth) => {
    const e = await h.factory
      .getPipeline()
      .submit(withDepth(depth))
      .catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ValidationError);
    expect(e).toMatchObject({ status: 400, message: 'invalid JSON: nested more than 10000 levels deep' });
  });

  test('10,000 levels and a fallback model: the body is rewritten for the fallback and sent', async () => {
    // Raw bytes, as the gateway hands them over: only the rewrite re-serialises the body.
    const text = JSON.stringify({ model: 'no-such-model', fallback_model: 'llama3.2', prompt: 'x', stream: false, options: { num_predict: 2, deep: '\u0000' } });
    const body = new TextEncoder().encode(text.replace('"\\u0000"', '['.repeat(9_998) + ']'.repeat(9_998)));
    const ended = new Promise<{ status: number; error?: string }>((resolve) => {
      let status = 0;
      const sink: ResponseSink = {
        onStart: (info) => void (status = info.status),
        onChunk: () => undefined,
        onEnd: () => resolve({ status }),
        onError: (e) => resolve({ status: e.status, error: e.message }),
      };
      h.factory.getPipeline().execute({ route: Route.Generate, body }, sink);
    });
    // Before the fix the request was never answered: a deadline turns that into a failure, not a hang.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<string>((r) => (timer = setTimeout(() => r('no answer within 20 s'), 20_000)));
    await expect(Promise.race([ended, deadline]).finally(() => clearTimeout(timer))).resolves.toEqual({ status: 200 });
    // The scheduler is still up: a plain request goes through.
    expect((await h.factory.getPipeline().submit(withDepth(10))).body.done).toBe(true);
  });
});

import { InferenceRequest, type RequestClass, ValidationError } from '../../src';
import { eventually, inFlight, startHarness, type Harness } from './harness';

/**
 * `CallOptions.requestClass` through the library against an emulated node with one slot: batch lines
 * fill the slot while nothing interactive waits, and an interactive request that comes while they
 * queue is served before every one of them still waiting.
 */
describe('request classes through the pipeline', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness([{ id: 'a', models: ['llama3.2'], preload: ['llama3.2'], numParallel: 1 }]);
  });
  afterAll(() => h.close());
  afterEach(async () => {
    await eventually(() => Object.values(inFlight(h)).every((n) => n === 0) && h.factory.getPoolView().live === 0, 5_000, 'in-flight back to 0');
  });

  const ask = (requestClass: RequestClass, done: string[], tag: string) =>
    h.factory
      .getPipeline()
      .submit(InferenceRequest.ofPrompt('llama3.2', 'hi', { options: { num_predict: 40 } }), { requestClass })
      .then(() => done.push(tag));

  test('an interactive request goes ahead of every waiting batch line', async () => {
    const done: string[] = [];
    const lines = Array.from({ length: 8 }, (_, i) => ask('batch', done, `b${i}`));
    await eventually(() => h.factory.getPoolView().classes.queued.batch >= 6, 5_000, 'the batch lines to queue');
    expect(h.factory.getPoolView().classes.running.batch).toBe(1);
    const interactive = ask('interactive', done, 'i');
    await Promise.all([...lines, interactive]);
    // At most the line on the slot when it came (and one bound in the same instant) finished before it.
    expect(done.indexOf('i')).toBeLessThanOrEqual(2);
    expect(done).toHaveLength(9);
  });

  test('an unknown class is refused at once', async () => {
    const bad = { requestClass: 'bulk' as RequestClass };
    await expect(h.factory.getPipeline().submit(InferenceRequest.ofPrompt('llama3.2', 'hi'), bad)).rejects.toBeInstanceOf(ValidationError);
  });
});

// The fallback model and the latency budget through the scheduler: which node a request reaches,
// under which model, what the response and the observer are told.
import { normalizeModel } from '@ollama-ring/protocol';
import type { FallbackReason } from '../../src/scheduler/hint-rules';
import type { Estimates } from '../../src/scheduler/estimates';
import { StrategyFactory } from '../../src/strategies/strategy-factory';
import { type Call, fakeClockForEachTest, Harness, nodeSpec, settle } from '../helpers';

fakeClockForEachTest();

interface FellBack {
  model: string;
  fallback: string;
  reason: FallbackReason;
}

/** Node a has `big` (one slot), node b has `small`; every switch is recorded. */
function pool(): { h: Harness; fellBack: FellBack[] } {
  const fellBack: FellBack[] = [];
  const h = new Harness({
    nodes: [nodeSpec('a', { models: ['big'], slots: 1 }), nodeSpec('b', { models: ['small'] })],
    observer: { fellBack: ({ model, fallback, reason }) => fellBack.push({ model, fallback, reason }) },
  });
  return { h, fellBack };
}

/** Teaches the estimates that `model` holds a slot on `nodeId` for `serviceMs`. */
function learnService(est: Estimates, nodeId: string, model: string, serviceMs: number): void {
  est.recordCompletion(nodeId, normalizeModel(model), undefined, { ttftMs: 50, latencyMs: serviceMs });
}

async function finishAll(h: Harness): Promise<void> {
  for (let open = h.dispatcher.open(); open.length > 0; open = h.dispatcher.open()) {
    for (const c of open) c.ok();
    await settle();
  }
}

const servedBy = (h: Harness, requestId: number): Call | undefined => h.dispatcher.calls.find((c) => c.job.requestId === requestId);

describe('fallback_model: the primary cannot be served', () => {
  const ways: [string, (h: Harness) => Promise<void>][] = [
    [
      'its only node is down',
      async (h) => {
        for (let i = 0; i < h.config.healthCheck.downThreshold; i++) h.scheduler.post({ type: 'health-checked', nodeId: 'a', ok: false, at: Date.now() });
        await settle();
      },
    ],
    ['its only node is disabled', (h) => h.control.nodeAction('a', 'disable').then(() => undefined)],
    ['its only node is draining', (h) => h.control.nodeAction('a', 'drain').then(() => undefined)],
    [
      "its only node's breaker is open",
      async (h) => {
        h.node('a').breaker.trip(Date.now());
        await settle();
      },
    ],
  ];

  test.each(ways)('%s: served by the fallback on its node, the response says so, the switch is counted', async (_l, makeUnservable) => {
    const { h, fellBack } = pool();
    await makeUnservable(h);
    const r = h.submit({ model: 'big', prompt: 'p', fallback_model: 'small' });
    const call = h.dispatcher.one();
    expect(call.job.nodeId).toBe('b');
    expect(Harness.bodyOf(call)).toMatchObject({ model: 'small', prompt: 'p' });
    call.ok();
    await settle();
    expect(r.sink.starts[0].fallbackFrom).toBe('big');
    expect(fellBack).toEqual([{ model: 'big:latest', fallback: 'small:latest', reason: 'unavailable' }]);
    h.expectIdle();
  });

  test.each(ways)('%s, without a fallback: the request is not switched', async (_l, makeUnservable) => {
    const { h, fellBack } = pool();
    await makeUnservable(h);
    const r = h.submit({ model: 'big', prompt: 'p' });
    // It waits for its node (a breaker half-opens after its recovery time) or times out, never on b.
    await settle(h.config.queue.maxWaitMs + 100);
    await finishAll(h);
    expect(h.dispatcher.calls.filter((c) => c.job.nodeId === 'b')).toEqual([]);
    expect(r.sink.endings).toBe(1);
    expect(r.ctx.fallbackFrom).toBeUndefined();
    expect(fellBack).toEqual([]);
  });

  test('a request waiting for its model is switched when the model’s node goes down', async () => {
    const { h, fellBack } = pool();
    learnService(h.estimates, 'a', 'big', 2_000);
    const first = h.submit({ model: 'big' });
    const r = h.submit({ model: 'big', fallback_model: 'small' });
    expect(h.dispatcher.calls).toHaveLength(1); // waits for a's slot: 2 s is well within its deadline
    for (let i = 0; i < h.config.healthCheck.downThreshold; i++) h.scheduler.post({ type: 'health-checked', nodeId: 'a', ok: false, at: Date.now() });
    await settle();
    expect(servedBy(h, r.ctx.id)?.job.nodeId).toBe('b');
    expect(fellBack.map((f) => f.reason)).toEqual(['unavailable']);
    void first;
    await finishAll(h);
    h.expectIdle();
  });
});

describe('fallback_model: the primary cannot start before the deadline', () => {
  test('its node is busy for longer than the queue lets it wait: switched at once', async () => {
    const { h, fellBack } = pool();
    learnService(h.estimates, 'a', 'big', 20_000); // queue.maxWaitMs is 10 s in the harness
    h.submit({ model: 'big' });
    const r = h.submit({ model: 'big', fallback_model: 'small' });
    expect(servedBy(h, r.ctx.id)?.job.nodeId).toBe('b');
    expect(fellBack).toEqual([{ model: 'big:latest', fallback: 'small:latest', reason: 'deadline' }]);
    await finishAll(h);
    expect(r.sink.starts[0].fallbackFrom).toBe('big');
    h.expectIdle();
  });

  test('its node frees in time: it waits and is served by its own model, never switched', async () => {
    const { h, fellBack } = pool();
    learnService(h.estimates, 'a', 'big', 2_000);
    const first = h.submit({ model: 'big' });
    const r = h.submit({ model: 'big', fallback_model: 'small' });
    await settle(1_000);
    expect(h.dispatcher.calls).toHaveLength(1);
    servedBy(h, first.ctx.id)!.ok();
    await settle();
    const call = servedBy(h, r.ctx.id)!;
    expect(call.job.nodeId).toBe('a');
    expect(Harness.bodyOf(call).model).toBe('big');
    await finishAll(h);
    expect(r.sink.starts[0].fallbackFrom).toBeUndefined();
    expect(fellBack).toEqual([]);
    h.expectIdle();
  });

  test('a slot that keeps not freeing: switched once the wait left no longer covers it, before the deadline passes', async () => {
    const { h, fellBack } = pool();
    learnService(h.estimates, 'a', 'big', 2_000);
    h.submit({ model: 'big' });
    const r = h.submit({ model: 'big', fallback_model: 'small' });
    await settle(9_000);
    expect(servedBy(h, r.ctx.id)).toBeUndefined(); // its slot is still "about to free"
    await settle(1_000);
    expect(servedBy(h, r.ctx.id)?.job.nodeId).toBe('b');
    expect(fellBack.map((f) => f.reason)).toEqual(['deadline']);
    await finishAll(h);
    expect(r.sink.ends).toHaveLength(1);
    h.expectIdle();
  });

  test('a fallback no better off stays unused: both busy past the deadline, the request keeps its model', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { models: ['big'], slots: 1 }), nodeSpec('b', { models: ['small'], slots: 1 }), nodeSpec('c', { models: ['x'] })] });
    learnService(h.estimates, 'a', 'big', 20_000);
    learnService(h.estimates, 'b', 'small', 40_000);
    h.submit({ model: 'big' });
    h.submit({ model: 'small' });
    const r = h.submit({ model: 'big', fallback_model: 'small' });
    await settle(100);
    expect(r.ctx.model).toBe('big:latest');
    expect(h.scheduler.queue.size).toBe(1);
    await finishAll(h);
    expect(Harness.bodyOf(servedBy(h, r.ctx.id)!).model).toBe('big');
    h.expectIdle();
  });
});

describe('max_latency: every strategy avoids the nodes predicted to miss it', () => {
  /** fast and slow both have `m`; learned: fast's first byte in 100 ms, slow's in 2 s; loads 1 s. */
  function twoSpeeds(extra: ReturnType<typeof nodeSpec>[] = []): Harness {
    const h = new Harness({ nodes: [nodeSpec('fast', { models: ['m'] }), nodeSpec('slow', { models: ['m'] }), ...extra] });
    for (const [id, firstByte] of [
      ['fast', 100],
      ['slow', 2_000],
    ] as const) {
      h.estimates.recordCompletion(id, 'm:latest', undefined, { ttftMs: firstByte, latencyMs: firstByte * 3, hotStream: true });
      h.estimates.recordCompletion(
        id,
        'm:latest',
        { loadMs: 1_000, promptTokens: 2, promptEvalMs: 1, evalTokens: 10, evalMs: 10, totalMs: 1_100 },
        { ttftMs: 1_100, latencyMs: 1_200 },
      );
    }
    return h;
  }

  test.each(StrategyFactory.names())('%s: requests with a 1.5 s budget all go to the fast node', async (strategy) => {
    const h = twoSpeeds();
    const rs = Array.from({ length: 3 }, () => h.submit({ model: 'm' }, { hints: { strategy, latencyBudgetMs: 1_500 } }));
    await settle();
    expect(rs.map((r) => servedBy(h, r.ctx.id)?.job.nodeId)).toEqual(['fast', 'fast', 'fast']);
    await finishAll(h);
    h.expectIdle();
  });

  test('the budget as a body field (max_latency) does the same; without it the strategy picks the slow node', async () => {
    const h = twoSpeeds();
    h.scheduler.strategy = new (class {
      readonly name = 'slowest-first';
      select(c: readonly { id: string; freeSlots(m: string): number }[], req: { model: string }) {
        return (c.find((n) => n.id === 'slow' && n.freeSlots(req.model) > 0) ?? c[0] ?? null) as never;
      }
    })();
    const budgeted = h.submit({ model: 'm', max_latency: 1_500 });
    const plain = h.submit({ model: 'm' });
    expect(servedBy(h, budgeted.ctx.id)?.job.nodeId).toBe('fast');
    expect(servedBy(h, plain.ctx.id)?.job.nodeId).toBe('slow');
    await finishAll(h);
    h.expectIdle();
  });

  test('when only the slow node is left, it serves the request (the strategy’s normal choice)', async () => {
    const h = twoSpeeds();
    await h.control.nodeAction('fast', 'disable');
    const r = h.submit({ model: 'm' }, { hints: { latencyBudgetMs: 1_500 } });
    expect(servedBy(h, r.ctx.id)?.job.nodeId).toBe('slow');
    await finishAll(h);
    h.expectIdle();
  });

  test('when no node of the model can meet it, the fallback that can serves it', async () => {
    const fellBack: FellBack[] = [];
    const h = new Harness({
      nodes: [nodeSpec('slow', { models: ['m'] }), nodeSpec('small', { models: ['s'] })],
      observer: { fellBack: ({ model, fallback, reason }) => fellBack.push({ model, fallback, reason }) },
    });
    h.estimates.recordCompletion('slow', 'm:latest', undefined, { ttftMs: 2_000, latencyMs: 6_000, hotStream: true });
    h.estimates.recordCompletion('small', 's:latest', undefined, { ttftMs: 100, latencyMs: 300, hotStream: true });
    for (const [id, model] of [
      ['slow', 'm:latest'],
      ['small', 's:latest'],
    ]) {
      h.scheduler.post({
        type: 'models-discovered',
        nodeId: id,
        at: Date.now(),
        probedAt: Date.now(),
        loaded: [{ model, optionsSignature: null, expiresAt: Date.now() + 600_000 }],
      });
    }
    await settle();
    const r = h.submit({ model: 'm', fallback_model: 's', max_latency: 1_000 });
    expect(servedBy(h, r.ctx.id)?.job.nodeId).toBe('small');
    expect(fellBack).toEqual([{ model: 'm:latest', fallback: 's:latest', reason: 'budget' }]);
    await finishAll(h);
    h.expectIdle();
  });
});

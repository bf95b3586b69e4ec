// Preemption: an interactive request that finds every slot held by batch lines cuts one of them, which
// runs again later; what is cut, when, and how often.
import type { PoolNode } from '../../src/nodes/node';
import type { Strategy } from '../../src/strategies/strategy';
import { Harness, type Submitted, fakeClockForEachTest, nodeSpec, settle } from '../helpers';

/** Interactive requests wait for node `a` (as a strategy waits for its hot node); batch lines go anywhere free. */
class WaitForA implements Strategy {
  readonly name = 'wait-for-a';
  select(candidates: readonly PoolNode[], req: { model: string }): PoolNode | null {
    const a = candidates.find((n) => n.id === 'a');
    if (a && req.model.startsWith('m:')) return a;
    return candidates.find((n) => n.freeSlots(req.model) > 0) ?? null;
  }
}

fakeClockForEachTest();

const BATCH = { requestClass: 'batch' as const };

async function finishAll(h: Harness): Promise<void> {
  for (let i = 0; i < 50 && h.dispatcher.open().length > 0; i++) {
    for (const c of h.dispatcher.open()) c.ok();
    await settle();
  }
}

/** The open dispatch of a request. */
const callOf = (h: Harness, s: Submitted) => h.dispatcher.open().find((c) => c.job.requestId === s.ctx.id);

/** The line on node a (not the younger one on b) was cut, and the interactive request took its slot; then all ends. */
async function expectCutOnA(h: Harness, onA: Submitted, onB: Submitted, user: Submitted): Promise<void> {
  expect(callOf(h, onA)!.job.signal.aborted).toBe(true);
  expect(callOf(h, onB)!.job.signal.aborted).toBe(false);
  callOf(h, onA)!.aborted();
  await settle();
  expect(callOf(h, user)!.job.nodeId).toBe('a');
  await finishAll(h);
  h.expectIdle();
}

describe('preemption of batch lines', () => {
  test('an interactive request that finds batch lines on every slot cuts the youngest; the line runs again later and is answered once', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 2 })] });
    const older = h.submit({}, BATCH);
    await settle(1_000);
    const younger = h.submit({}, BATCH);
    await settle(1_000);
    const user = h.submit();
    expect(callOf(h, younger)!.job.signal.aborted).toBe(true);
    expect(callOf(h, older)!.job.signal.aborted).toBe(false);
    expect(user.ctx.state).toBe('queued');
    // The cut dispatch ends: the interactive request takes its slot, the line waits for the next.
    callOf(h, younger)!.aborted();
    await settle();
    expect(user.ctx.state).toBe('dispatching');
    expect(younger.ctx.state).toBe('queued');
    expect(younger.ctx.retries).toBe(0);
    expect(h.view().classes.preempted).toBe(1);
    await finishAll(h);
    expect(younger.sink.ends).toHaveLength(1);
    expect(younger.sink.errors).toEqual([]);
    expect(h.dispatcher.calls.filter((c) => c.job.requestId === younger.ctx.id)).toHaveLength(2);
    h.expectIdle();
  });

  test('one waiter cuts one line, however many passes run before the cut dispatch ends', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 3 })] });
    [1, 2, 3].forEach(() => h.submit({}, BATCH));
    h.submit();
    await settle(1_000); // ten re-offer passes
    expect(h.dispatcher.open().filter((c) => c.job.signal.aborted)).toHaveLength(1);
    h.submit();
    await settle(500);
    expect(h.dispatcher.open().filter((c) => c.job.signal.aborted)).toHaveLength(2);
    for (const c of h.dispatcher.open().filter((c) => c.job.signal.aborted)) c.aborted();
    await settle();
    await finishAll(h);
    h.expectIdle();
  });

  test('the line is cut on a node where the waiter’s model is hot, even if a younger line runs elsewhere', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 }), nodeSpec('b', { slots: 1 })] });
    const onA = h.submit({ model: 'm' }, { ...BATCH, hints: { strategy: 'first' } });
    await settle(1_000);
    const onB = h.submit({ model: 'x' }, BATCH);
    expect([callOf(h, onA)!.job.nodeId, callOf(h, onB)!.job.nodeId]).toEqual(['a', 'b']);
    await settle(60_000); // both models loaded by now
    const user = h.submit({ model: 'm' });
    await expectCutOnA(h, onA, onB, user);
  });

  test('the line is cut on the node the strategy waits for, even if a younger line runs elsewhere', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 }), nodeSpec('b', { slots: 1 })] });
    await h.control.setStrategy(new WaitForA());
    const onA = h.submit({ model: 'x' }, BATCH);
    await settle(1_000);
    const onB = h.submit({ model: 'x' }, BATCH);
    expect([callOf(h, onA)!.job.nodeId, callOf(h, onB)!.job.nodeId]).toEqual(['a', 'b']);
    const user = h.submit({ model: 'm' });
    await expectCutOnA(h, onA, onB, user);
  });

  test('a line is cut at most queue.batchPreemptions times; then the interactive request waits for it', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], config: (c) => void (c.queue.batchPreemptions = 1) });
    const line = h.submit({}, BATCH);
    const first = h.submit();
    callOf(h, line)!.aborted();
    await settle();
    callOf(h, first)!.ok();
    await settle();
    expect(line.ctx.state).toBe('dispatching');
    const second = h.submit();
    await settle(500);
    expect(callOf(h, line)!.job.signal.aborted).toBe(false);
    expect(second.ctx.state).toBe('queued');
    callOf(h, line)!.ok();
    await settle();
    expect(second.ctx.state).toBe('dispatching');
    await finishAll(h);
    h.expectIdle();
  });

  test('queue.batchPreemptions 0: nothing is cut', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })], config: (c) => void (c.queue.batchPreemptions = 0) });
    const line = h.submit({}, BATCH);
    h.submit();
    await settle(500);
    expect(callOf(h, line)!.job.signal.aborted).toBe(false);
    expect(h.view().classes.preempted).toBe(0);
    await finishAll(h);
    h.expectIdle();
  });

  test('a line that has started answering is never cut, nor is an interactive request', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 2 })] });
    const streaming = h.submit({ stream: true }, BATCH);
    callOf(h, streaming)!.stream('{"response":"a","done":false}\n');
    const other = h.submit();
    h.submit();
    await settle(500);
    expect(callOf(h, streaming)!.job.signal.aborted).toBe(false);
    expect(callOf(h, other)!.job.signal.aborted).toBe(false);
    await finishAll(h);
    h.expectIdle();
  });

  test('a cut line whose dispatch ends with its answer anyway is answered, not run again', async () => {
    const h = new Harness({ nodes: [nodeSpec('a', { slots: 1 })] });
    const line = h.submit({}, BATCH);
    const user = h.submit();
    expect(callOf(h, line)!.job.signal.aborted).toBe(true);
    callOf(h, line)!.ok(); // the answer won the race with the abort
    await settle();
    expect(line.sink.ends).toHaveLength(1);
    expect(line.sink.errors).toEqual([]);
    expect(user.ctx.state).toBe('dispatching');
    await finishAll(h);
    expect(h.dispatcher.calls.filter((c) => c.job.requestId === line.ctx.id)).toHaveLength(1);
    h.expectIdle();
  });
});

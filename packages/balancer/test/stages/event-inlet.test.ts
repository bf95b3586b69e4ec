// Scheduler events on the CONTROL ring: they reach the scheduler in the order they were posted,
// batched, and none is lost when the ring is full.
import { Disruptor } from '@ollama-ring/disruptor';
import { RequestAbortedError } from '../../src/errors';
import { type ControlSchema, controlLayout } from '../../src/events';
import type { SchedulerPort } from '../../src/scheduler/pool-state';
import type { SchedulerEvent } from '../../src/scheduler/scheduler-events';
import { ControlHandler } from '../../src/stages/control';
import { EventInlet } from '../../src/stages/event-inlet';

/** A SchedulerPort that records what the control stage hands it, batch by batch. */
class Recorder implements SchedulerPort {
  readonly batches: string[][] = [[]];
  admitOrThrow(): void {}
  unadmit(): void {}
  post(): void {
    throw new Error('the ring stage accepts; it never posts');
  }
  accept(evt: SchedulerEvent): void {
    this.batches.at(-1)!.push(evt.type === 'request-aborted' ? `${evt.type}:${evt.requestId}` : evt.type);
  }
  drain(): void {
    this.batches.push([]);
  }
  get all(): string[] {
    return this.batches.flat();
  }
}

async function controlRing(size: number) {
  const d = new Disruptor<ControlSchema>({ layout: controlLayout, size, producerType: 'single' });
  const inlet = new EventInlet(d.ringBuffer);
  const rec = new Recorder();
  d.handleEventsWith(new ControlHandler(rec, inlet));
  const ring = await d.start();
  const settle = () => new Promise<void>((r) => setImmediate(r));
  return { d, inlet, rec, settle, ring };
}

const abort = (requestId: number): SchedulerEvent => ({ type: 'request-aborted', requestId, error: new RequestAbortedError() });

test('events reach the scheduler in the order they were posted, applied at the end of each batch', async () => {
  const p = await controlRing(16);
  p.inlet.post({ type: 'timer-fired', timer: 'reoffer' });
  p.inlet.post(abort(1));
  p.inlet.post(abort(2));
  expect(p.rec.all).toEqual([]); // nothing before the stage runs: the poster's own work comes first
  await p.settle();
  expect(p.rec.all).toEqual(['timer-fired', 'request-aborted:1', 'request-aborted:2']);
  expect(p.rec.batches.length).toBeGreaterThan(1); // drained at the end of a batch
  await p.d.shutdown(1_000);
});

test('a full ring drops nothing: the overflow keeps the order and goes to the scheduler at the end of the next batch', async () => {
  const p = await controlRing(4);
  // Synchronous posts: the inline stage cannot run until this task ends, so the ring fills at 4.
  for (let i = 1; i <= 11; i++) p.inlet.post(abort(i));
  expect(p.inlet.overflowPeak).toBe(7);
  expect(p.ring.remainingCapacity()).toBe(0);
  await p.settle();
  expect(p.rec.all).toEqual(Array.from({ length: 11 }, (_, i) => `request-aborted:${i + 1}`));
  // Later events go to the ring again once the overflow is empty.
  p.inlet.post(abort(12));
  await p.settle();
  expect(p.rec.all.at(-1)).toBe('request-aborted:12');
  expect(p.ring.remainingCapacity()).toBe(4);
  await p.d.shutdown(1_000);
});

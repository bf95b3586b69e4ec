// Scheduler events on the INGRESS ring: they reach the scheduler in the order they were posted,
// interleaved with requests in ring order, and none is lost when the ring is full.
import { ByteArena, Disruptor } from '@ollama-ring/disruptor';
import { RequestAbortedError } from '../../src/errors';
import { Route } from '@ollama-ring/protocol';
import { IngressKind, type IngressSchema, ingressLayout } from '../../src/events';
import { RequestContext, RequestTable } from '../../src/request-context';
import type { SchedulerPort } from '../../src/scheduler/pool-state';
import type { SchedulerEvent } from '../../src/scheduler/scheduler-events';
import { EventInlet } from '../../src/stages/event-inlet';
import { SchedulingHandler } from '../../src/stages/scheduling';
import { ValidationHandler, type VerdictHandover } from '../../src/stages/validation';
import { RecordingSink } from '../helpers';

/** A SchedulerPort that records what the scheduling stage hands it, batch by batch. */
class Recorder implements SchedulerPort {
  readonly batches: string[][] = [[]];
  admitOrThrow(): void {}
  unadmit(): void {}
  post(): void {
    throw new Error('the ring stage accepts; it never posts');
  }
  accept(evt: SchedulerEvent): void {
    this.batches.at(-1)!.push(evt.type === 'request-validated' || evt.type === 'request-aborted' ? `${evt.type}:${evt.requestId}` : evt.type);
  }
  drain(): void {
    this.batches.push([]);
  }
  get all(): string[] {
    return this.batches.flat();
  }
}

async function pipeline(size: number) {
  const arena = new ByteArena({ capacity: 1 << 16, blockSize: 64 });
  const table = new RequestTable();
  const d = new Disruptor<IngressSchema>({ layout: ingressLayout, size, producerType: 'single' });
  const inlet = new EventInlet(d.ringBuffer);
  const rec = new Recorder();
  const handover: VerdictHandover = new Map();
  const limits = { maxPromptLength: 1_000, allowedModels: [] };
  d.handleEventsWithWorkerPool(new ValidationHandler(arena, limits, handover)).then(new SchedulingHandler(arena, table, rec, inlet, handover));
  const ring = await d.start();
  const request = () => {
    const bytes = Buffer.from(JSON.stringify({ model: 'm', prompt: 'hi' }));
    const off = arena.tryAllocCopy(bytes);
    const ctx = new RequestContext(table.allocateId(), Route.Generate, off, bytes.length, {}, undefined, new RecordingSink(), Date.now());
    table.add(ctx);
    const seq = ring.tryNext();
    const e = ring.get(seq);
    e.kind = IngressKind.Request;
    e.requestId = ctx.id;
    e.route = ctx.route;
    e.bodyOffset = off;
    e.bodyLength = bytes.length;
    e.status = 0;
    ring.publish(seq);
    return ctx.id;
  };
  const settle = () => new Promise<void>((r) => setImmediate(r));
  return { d, inlet, rec, request, settle, ring };
}

const abort = (requestId: number): SchedulerEvent => ({ type: 'request-aborted', requestId, error: new RequestAbortedError() });

test('events and requests reach the scheduler in ring order, validated, applied per batch', async () => {
  const p = await pipeline(16);
  p.inlet.post({ type: 'timer-fired', timer: 'reoffer' });
  const r1 = p.request();
  p.inlet.post(abort(r1));
  const r2 = p.request();
  await p.settle();
  expect(p.rec.all).toEqual(['timer-fired', `request-validated:${r1}`, `request-aborted:${r1}`, `request-validated:${r2}`]);
  expect(p.rec.batches.length).toBeGreaterThan(1); // drained at the end of a batch
  await p.d.shutdown(1_000);
});

test('a full ring drops nothing: the overflow keeps the order and goes to the scheduler at the end of the next batch', async () => {
  const p = await pipeline(4);
  // Synchronous posts: the inline stages cannot run until this task ends, so the ring fills at 4.
  for (let i = 1; i <= 11; i++) p.inlet.post(abort(i));
  expect(p.inlet.overflowPeak).toBe(7);
  expect(() => p.request()).toThrow(); // a request meets the full ring as backpressure
  await p.settle();
  expect(p.rec.all).toEqual(Array.from({ length: 11 }, (_, i) => `request-aborted:${i + 1}`));
  // Later events go to the ring again once the overflow is empty.
  p.inlet.post(abort(12));
  await p.settle();
  expect(p.rec.all.at(-1)).toBe('request-aborted:12');
  expect(p.ring.remainingCapacity()).toBe(4);
  await p.d.shutdown(1_000);
});

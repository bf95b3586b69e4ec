import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { Disruptor, IllegalStateError, RecordLayout, WorkerCrashedError, type RingBufferDescriptor } from '../src';

// Worker threads load compiled JS: the fixtures require ../../dist, which scripts/test builds first.
const fixture = (name: string) => join(__dirname, 'fixtures', name);
const layout = RecordLayout.define({ producer: 'int32', value: 'int32', a: 'int32', b: 'int32', c: 'int32' });

function runProducer(ring: RingBufferDescriptor, producer: number, count: number, batch: number) {
  const w = new Worker(fixture('producer.js'), { workerData: { ring, producer, count, batch } });
  return new Promise<{ done?: number; error?: string; published?: number }>((resolve, reject) => {
    let msg: { done?: number; error?: string } = {};
    w.on('message', (m) => (msg = m));
    w.on('error', reject);
    w.on('exit', () => resolve(msg));
  });
}

function collect() {
  const messages: unknown[] = [];
  return { messages, onMessage: (m: unknown) => void messages.push(m) };
}

describe('across threads', () => {
  test('3 producers, 3 consumers, 10 million events: none lost, none duplicated, per-producer order kept', async () => {
    const PER_PRODUCER = 3_333_334; // 10,000,002 in all
    const d = new Disruptor({ layout, size: 4096, producerType: 'multi', waitStrategy: 'blocking' });
    const sinks = [collect(), collect(), collect()];
    d.handleEventsWith(
      ...sinks.map((s, i) => ({
        module: fixture('checker.js'),
        options: { producers: 3 },
        name: `checker-${i}`,
        onMessage: s.onMessage,
      })),
    );
    const ring = await d.start();
    const results = await Promise.all([0, 1, 2].map((p) => runProducer(ring.describe(), p, PER_PRODUCER, 64)));
    expect(results).toEqual([{ done: PER_PRODUCER }, { done: PER_PRODUCER }, { done: PER_PRODUCER }]);
    await d.shutdown(30_000);
    for (const s of sinks) {
      expect(s.messages).toEqual([{ counts: [PER_PRODUCER, PER_PRODUCER, PER_PRODUCER], errors: 0, firstError: '' }]);
    }
  }, 180_000);

  test('a work pool on 3 threads hands each of 1 million events to exactly one member', async () => {
    const N = 1_000_000;
    const hits = new SharedArrayBuffer(N * 4);
    const d = new Disruptor({ layout, size: 1024, producerType: 'multi' });
    const sinks = [collect(), collect(), collect()];
    d.handleEventsWithWorkerPool(...sinks.map((s) => ({ module: fixture('work-counter.js'), options: { hits }, onMessage: s.onMessage })));
    const ring = await d.start();
    // Two producers, values 0..N/2-1 each; the counter indexes by value, so offset the second.
    const half = N / 2;
    await Promise.all([runProducer(ring.describe(), 0, half, 32), runProducer(ring.describe(), 1, half, 32)]);
    await d.shutdown(30_000);
    const h = new Int32Array(hits);
    // Each value v < N/2 was published twice (once per producer): each copy reached one member.
    let wrong = 0;
    for (let v = 0; v < half; v++) if (h[v] !== 2) wrong++;
    for (let v = half; v < N; v++) if (h[v] !== 0) wrong++;
    expect(wrong).toBe(0);
    const total = sinks.reduce((t, s) => t + (s.messages[0] as { mine: number }).mine, 0);
    expect(total).toBe(N);
  }, 120_000);

  test('diamond on threads: no stage reads an event before its upstream stages finished', async () => {
    const d = new Disruptor({ layout, size: 256, producerType: 'single' });
    const [sa, sb, sc] = [collect(), collect(), collect()];
    const a = { module: fixture('marks.js'), options: { write: 'a', requires: [] }, onMessage: sa.onMessage };
    const b = { module: fixture('marks.js'), options: { write: 'b', requires: [] }, onMessage: sb.onMessage };
    const c = { module: fixture('marks.js'), options: { write: 'c', requires: ['a', 'b'] }, onMessage: sc.onMessage };
    d.handleEventsWith(a, b).then(c);
    const ring = await d.start();
    const N = 200_000;
    for (let i = 0; i < N; i++) {
      const s = await ring.nextAsync();
      const e = ring.get(s);
      e.value = i;
      e.a = e.b = e.c = 0;
      ring.publish(s);
    }
    await d.shutdown(30_000);
    expect(sc.messages).toEqual([{ seen: N, early: 0 }]);
    expect(sa.messages).toEqual([{ seen: N, early: 0 }]);
  }, 60_000);

  test('a handler that throws on a thread is reported with its sequence, and the pipeline goes on', async () => {
    const reports: string[] = [];
    const d = new Disruptor({ layout, size: 64, onHandlerError: (m) => reports.push(m) });
    const sink = collect();
    d.handleEventsWith({ module: fixture('faulty.js'), options: { mode: 'throw' }, name: 'thrower' }).then({
      module: fixture('checker.js'),
      options: { producers: 1 },
      onMessage: sink.onMessage,
    });
    const ring = await d.start();
    for (let i = 0; i < 50; i++) {
      const s = await ring.nextAsync();
      Object.assign(ring.get(s), { producer: 0, value: i });
      ring.publish(s);
    }
    await d.shutdown(10_000);
    expect(reports).toHaveLength(5);
    expect(reports[0]).toMatch(/handler 'thrower' threw on sequence 3/);
    expect(sink.messages).toEqual([{ counts: [50], errors: 0, firstError: '' }]);
  });

  test.each([
    ['exits', { mode: 'exit', at: 5 }, 'blocking', /exited with code 7/],
    ['throws uncaught', { mode: 'crash', at: 5 }, 'event-loop', /uncaught in handler thread/],
  ] as const)(
    'a handler thread that %s fails the pipeline loudly; producers are released',
    async (_l, options, mode, why) => {
      const fatal: Error[] = [];
      const d = new Disruptor({ layout, size: 8, onFatalError: (e) => fatal.push(e) });
      d.handleEventsWith({ module: fixture('faulty.js'), options, mode });
      const ring = await d.start();
      // Publish far more than the ring holds: once the thread dies the producer must get an error.
      const producer = runProducer(ring.describe(), 0, 10_000, 1);
      const result = await producer;
      expect(result.error).toMatch(/halted/);
      expect(result.published).toBeLessThan(10_000);
      await expect(d.shutdown(5000)).rejects.toThrow(WorkerCrashedError);
      expect(fatal).toHaveLength(1);
      expect(fatal[0].message).toMatch(why);
      expect(() => ring.tryNext()).toThrow(IllegalStateError);
    },
    30_000,
  );

  test('a handler factory that throws makes start() reject, with no thread left behind', async () => {
    const d = new Disruptor({ layout, size: 8 });
    d.handleEventsWith({ module: fixture('faulty.js'), options: { mode: 'bad-start' } }, { onEvent: () => undefined });
    await expect(d.start()).rejects.toThrow(/factory refused/);
  });

  test('shutdown while thread handlers are waiting with nothing to do', async () => {
    const d = new Disruptor({ layout, size: 8 });
    d.handleEventsWith(
      { module: fixture('marks.js'), options: { write: 'a', requires: [] } },
      { module: fixture('marks.js'), options: { write: 'b', requires: [] }, mode: 'event-loop' },
    );
    await d.start();
    await new Promise((r) => setTimeout(r, 20));
    await d.shutdown(5000);
    expect(d.isRunning()).toBe(false);
  });

  test('an event-loop-mode handler can use timers between events', async () => {
    const d = new Disruptor({ layout, size: 16 });
    const sink = collect();
    d.handleEventsWith({ module: fixture('timer-echo.js'), mode: 'event-loop', onMessage: sink.onMessage });
    const ring = await d.start();
    for (let i = 0; i < 20; i++) {
      const s = await ring.nextAsync();
      ring.get(s).value = i;
      ring.publish(s);
    }
    const deadline = Date.now() + 5000;
    while (sink.messages.length < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await d.shutdown(5000);
    expect((sink.messages as { echoed: number }[]).map((m) => m.echoed).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

import {
  AlertError,
  Disruptor,
  type EventHandler,
  type EventView,
  HaltingExceptionHandler,
  IllegalStateError,
  RecordLayout,
  Sequence,
  ShutdownTimeoutError,
  WAIT_STRATEGY_KINDS,
  type WaitStrategyKind,
  type WorkHandler,
  seqAdd,
} from '../src';

const schema = { value: 'int32', a: 'int32', b: 'int32', c: 'int32' } as const;
type S = typeof schema;
const layout = RecordLayout.define(schema);

function collector(): EventHandler<S> & { seen: number[] } {
  const seen: number[] = [];
  return { seen, onEvent: (e) => void seen.push(e.value) };
}

async function publishAll(d: Disruptor<S>, values: number[]): Promise<void> {
  const ring = d.ringBuffer;
  for (const v of values) {
    const s = await ring.nextAsync();
    ring.get(s).value = v;
    ring.publish(s);
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe.each(WAIT_STRATEGY_KINDS.map((k) => [k]))('inline handlers with %s wait strategy', (kind) => {
  const waitStrategy = kind === 'timeout' ? { kind: 'timeout' as const, timeoutMs: 5 } : (kind as WaitStrategyKind);

  test.each([['single'], ['multi']] as const)('%s producer: every event, in order, through a small ring', async (producerType) => {
    const d = new Disruptor({ layout, size: 16, producerType, waitStrategy });
    const h = collector();
    d.handleEventsWith(h);
    await d.start();
    await publishAll(d, range(1000));
    await d.shutdown(5000);
    expect(h.seen).toEqual(range(1000));
  });
});

describe('handler graph', () => {
  test('diamond: a and b in parallel, c after both; no stage reads before its upstream is done', async () => {
    const d = new Disruptor({ layout, size: 8, producerType: 'single' });
    const errors: string[] = [];
    const a: EventHandler<S> = { onEvent: (e) => void (e.a = e.value + 1) };
    const b: EventHandler<S> = { onEvent: (e) => void (e.b = e.value + 2) };
    const c: EventHandler<S> = {
      onEvent(e, seq) {
        if (e.a !== e.value + 1 || e.b !== e.value + 2) errors.push(`c read ${seq} before a and b finished`);
        e.c = 1;
      },
    };
    d.handleEventsWith(a, b).then(c);
    await d.start();
    // Producer gates on c only: it must not overwrite a slot c has not read.
    await publishAll(d, range(500));
    await d.shutdown(5000);
    expect(errors).toEqual([]);
    expect(d.getSequenceValueFor(c)).toBe(499);
  });

  test('after(x).handleEventsWith(y) and and() join groups', async () => {
    const d = new Disruptor({ layout, size: 8 });
    const order: string[] = [];
    const x: EventHandler<S> = { onEvent: (e) => void (e.a = 1) };
    const z: EventHandler<S> = { onEvent: (e) => void (e.b = 1) };
    const y: EventHandler<S> = {
      onEvent(e) {
        if (e.a !== 1) order.push('y before x');
      },
    };
    const w: EventHandler<S> = {
      onEvent(e) {
        if (e.a !== 1 || e.b !== 1) order.push('w before x and z');
      },
    };
    const gx = d.handleEventsWith(x);
    const gz = d.handleEventsWith(z);
    d.after(x).handleEventsWith(y);
    gx.and(gz).then(w);
    await d.start();
    const ring = d.ringBuffer;
    for (let i = 0; i < 300; i++) {
      const s = await ring.nextAsync();
      ring.get(s).a = 0;
      ring.get(s).b = 0;
      ring.publish(s);
    }
    await d.shutdown(5000);
    expect(order).toEqual([]);
  });

  test('handlers cannot be added after start, and start twice fails', async () => {
    const d = new Disruptor({ layout, size: 8 });
    d.handleEventsWith(collector());
    await d.start();
    expect(() => d.handleEventsWith(collector())).toThrow(IllegalStateError);
    await expect(d.start()).rejects.toThrow(IllegalStateError);
    await d.shutdown();
  });
});

describe('batch event processor', () => {
  test('onBatchStart and endOfBatch describe each batch; maxBatchSize caps it', async () => {
    const d = new Disruptor({ layout, size: 64, producerType: 'single', maxBatchSize: 4 });
    const batches: number[] = [];
    let inBatch = 0;
    const ends: number[] = [];
    d.handleEventsWith({
      onBatchStart: (size) => {
        batches.push(size);
        inBatch = 0;
      },
      onEvent: (_e, seq, end) => {
        inBatch++;
        if (end) ends.push(inBatch);
      },
    });
    const ring = d.ringBuffer;
    // Publish 10 before starting so that the first wait sees them all at once.
    const hi = ring.next(10);
    ring.publishRange(seqAdd(hi, -9), hi);
    await d.start();
    await d.shutdown(5000);
    expect(batches).toEqual([4, 4, 2]);
    expect(ends).toEqual([4, 4, 2]);
  });

  test('a handler that throws is reported and the pipeline goes on', async () => {
    const reports: string[] = [];
    const d = new Disruptor({ layout, size: 8, onHandlerError: (m) => reports.push(m) });
    const h = collector();
    d.handleEventsWith({
      onEvent(e) {
        if (e.value % 10 === 3) throw new Error('bad');
      },
    }).then(h);
    await d.start();
    await publishAll(d, range(30));
    await d.shutdown(5000);
    expect(reports).toHaveLength(3);
    expect(reports[0]).toMatch(/sequence 3/);
    expect(h.seen).toEqual(range(30));
  });

  test('a halting exception handler fails the disruptor loudly and frees producers', async () => {
    const fatal: unknown[] = [];
    const d = new Disruptor({
      layout,
      size: 4,
      exceptionHandler: new HaltingExceptionHandler(() => undefined),
      onFatalError: (e) => fatal.push(e),
    });
    d.handleEventsWith({
      onEvent() {
        throw new Error('poison');
      },
    });
    await d.start();
    await publishAll(d, [1]);
    // The producer fills the ring and must be released with an error, not hang.
    await expect(publishAll(d, range(10))).rejects.toThrow(IllegalStateError);
    await expect(d.shutdown(1000)).rejects.toThrow(/poison/);
    expect(fatal).toHaveLength(1);
  });

  test('sequence callback: a handler releases its slots later, and gating waits for it', async () => {
    const d = new Disruptor({ layout, size: 4, producerType: 'single' });
    let release: Sequence | undefined;
    let last = -1;
    d.handleEventsWith({
      setSequenceCallback: (s) => void (release = s),
      onEvent: (_e, seq) => void (last = seq),
    });
    await d.start();
    await publishAll(d, range(4));
    await new Promise((r) => setTimeout(r, 10));
    expect(last).toBe(3);
    // Nothing released yet: the ring is full for the producer.
    expect(d.ringBuffer.remainingCapacity()).toBe(0);
    release!.set(1);
    expect(d.ringBuffer.remainingCapacity()).toBe(2);
    release!.set(3);
    await d.shutdown(1000);
  });

  test('timeout strategy calls onTimeout while idle', async () => {
    const d = new Disruptor({ layout, size: 8, waitStrategy: { kind: 'timeout', timeoutMs: 5 } });
    let timeouts = 0;
    d.handleEventsWith({ onEvent: () => undefined, onTimeout: () => void timeouts++ });
    await d.start();
    await new Promise((r) => setTimeout(r, 60));
    await d.shutdown(1000);
    expect(timeouts).toBeGreaterThanOrEqual(2);
  });
});

describe('work pool (inline)', () => {
  test('each event reaches exactly one member', async () => {
    const d = new Disruptor({ layout, size: 32 });
    const hits = new Int32Array(5000);
    const members: (WorkHandler<S> & { n: number })[] = range(3).map(() => ({
      n: 0,
      onEvent(this: { n: number }, e: EventView<S>) {
        hits[e.value]++;
        this.n++;
      },
    }));
    d.handleEventsWithWorkerPool(...members);
    await d.start();
    await publishAll(d, range(5000));
    await d.shutdown(5000);
    expect(hits.every((h) => h === 1)).toBe(true);
    expect(members.reduce((t, m) => t + m.n, 0)).toBe(5000);
  });

  test('a stage after a pool sees each event only after the pool handled it', async () => {
    const d = new Disruptor({ layout, size: 16 });
    const late: number[] = [];
    const pool = range(2).map(() => ({ onEvent: (e: EventView<S>) => void (e.a = 7) }));
    d.handleEventsWithWorkerPool(...pool).then({
      onEvent: (e, seq) => {
        if (e.a !== 7) late.push(seq);
      },
    });
    await d.start();
    const ring = d.ringBuffer;
    for (let i = 0; i < 400; i++) {
      const s = await ring.nextAsync();
      ring.get(s).a = 0;
      ring.publish(s);
    }
    await d.shutdown(5000);
    expect(late).toEqual([]);
  });
});

describe('lifecycle', () => {
  test('shutdown while handlers wait with nothing published', async () => {
    const d = new Disruptor({ layout, size: 8 });
    const h = collector();
    d.handleEventsWith(h).then(collector());
    await d.start();
    await d.shutdown(1000);
    expect(d.isRunning()).toBe(false);
  });

  test('shutdown drains what was published before it', async () => {
    const d = new Disruptor({ layout, size: 1024, producerType: 'single' });
    const h = collector();
    d.handleEventsWith(h);
    await d.start();
    const ring = d.ringBuffer;
    const hi = ring.next(1000);
    for (let s = 0; s <= hi; s++) ring.get(s).value = s;
    ring.publishRange(0, hi);
    await d.shutdown(5000);
    expect(h.seen).toHaveLength(1000);
  });

  test('shutdown that cannot drain times out with ShutdownTimeoutError, and still halts', async () => {
    const d = new Disruptor({ layout, size: 4 });
    d.handleEventsWith({ setSequenceCallback: () => undefined, onEvent: () => undefined });
    await d.start();
    await publishAll(d, [1]);
    await expect(d.shutdown(30)).rejects.toThrow(ShutdownTimeoutError);
    expect(d.isRunning()).toBe(false);
    expect(() => d.ringBuffer.tryNext()).toThrow(IllegalStateError);
  });

  test('await using shuts down', async () => {
    const h = collector();
    {
      await using d = new Disruptor({ layout, size: 8 });
      d.handleEventsWith(h);
      await d.start();
      await publishAll(d, [5, 6]);
    }
    expect(h.seen).toEqual([5, 6]);
  });

  test('sequences start just below the int32 wrap and cross it', async () => {
    const start = 0x7fffffff - 100;
    const d = new Disruptor({ layout, size: 64, initialSequence: start });
    const h = collector();
    const seqs: number[] = [];
    d.handleEventsWith(h).then({ onEvent: (_e, s) => void seqs.push(s) });
    await d.start();
    await publishAll(d, range(300));
    await d.shutdown(5000);
    expect(h.seen).toEqual(range(300));
    expect(seqs[0]).toBe(start + 1);
    expect(seqs[299]).toBe(seqAdd(start, 300));
    expect(seqs[299]).toBeLessThan(0);
  });

  test('an alerted barrier raises AlertError to a direct waiter', async () => {
    const d = new Disruptor({ layout, size: 8 });
    const g = d.handleEventsWith(collector());
    const barrier = g.asSequenceBarrier();
    await d.start();
    const waiting = barrier.waitForAsync(0);
    barrier.alert();
    await expect(waiting).rejects.toThrow(AlertError);
    await d.shutdown();
  });
});

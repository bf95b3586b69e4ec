import { Disruptor, type WaitStrategyDescriptor, type WorkerHandlerSpec } from '@ollama-ring/disruptor';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { benchLayout, type benchSchema } from './layout';
import type { ProducerData } from './producer-thread';
import type { DoneMsg, LatencyMsg, ScenarioName, StartMsg } from './topology';

const handlers = join(__dirname, 'handlers.js');
const RING = 1 << 16;

function spec(exportName: string, options: unknown, onMessage?: (m: unknown) => void): WorkerHandlerSpec {
  return { module: handlers, export: exportName, options, onMessage };
}

function producer(data: ProducerData): Promise<StartMsg> {
  const w = new Worker(join(__dirname, 'producer-thread.js'), { workerData: data });
  return new Promise((resolve, reject) => {
    let start: StartMsg | undefined;
    w.on('message', (m: StartMsg | { endNs: number }) => {
      if ('startNs' in m) start = m;
    });
    w.once('error', reject);
    w.once('exit', () => (start ? resolve(start) : reject(new Error('producer thread died'))));
  });
}

/**
 * Runs one scenario on the engine with every handler and producer on its own thread, and returns
 * events per second: events published over the time from the first producer's start to the last
 * stage's final event. Each handler checks its count, so a lost event would hang, not flatter, the run.
 */
export async function runDisruptorScenario(name: ScenarioName, events: number, waitStrategy: WaitStrategyDescriptor, batch: number): Promise<number> {
  const producers = name === 'sequencer-3p1c' ? 3 : 1;
  const perProducer = Math.floor(events / producers);
  const total = perProducer * producers;
  const d = new Disruptor<typeof benchSchema>({
    layout: benchLayout,
    size: RING,
    producerType: producers > 1 ? 'multi' : 'single',
    waitStrategy,
  });
  const done: DoneMsg[] = [];
  let sinks = 0;
  const sink = (exportName: string, options: object) => {
    sinks++;
    return spec(exportName, { expect: total, ...options }, (m) => done.push(m as DoneMsg));
  };
  switch (name) {
    case 'unicast-1p1c':
    case 'sequencer-3p1c':
      d.handleEventsWith(sink('createCounter', { field: 'value' }));
      break;
    case 'pipeline-1p3c':
      d.handleEventsWith(spec('createStage', { from: 'value', to: 's1' }))
        .then(spec('createStage', { from: 's1', to: 's2' }))
        .then(sink('createCounter', { field: 's2' }));
      break;
    case 'multicast-1p3c':
      d.handleEventsWith(sink('createCounter', { field: 'value' }), sink('createCounter', { field: 'value' }), sink('createCounter', { field: 'value' }));
      break;
    case 'diamond-1p3c':
      d.handleEventsWith(spec('createFlagger', { divisor: 3, to: 'a' }), spec('createFlagger', { divisor: 5, to: 'b' })).then(sink('createJoin', {}));
      break;
  }
  const ring = await d.start();
  try {
    const starts = await Promise.all(Array.from({ length: producers }, () => producer({ ring: ring.describe(), count: perProducer, batch, mode: 'throughput' })));
    while (done.length < sinks) await new Promise((r) => setTimeout(r, 1));
    const t0 = Math.min(...starts.map((s) => s.startNs));
    const t1 = Math.max(...done.map((m) => m.doneNs));
    return (total / (t1 - t0)) * 1e9;
  } finally {
    await d.shutdown(10_000);
  }
}

/** A 3-stage pipeline driven at a fixed rate; per-event latency from publish to the last stage. */
export async function runDisruptorLatency(events: number, ratePerSec: number, waitStrategy: WaitStrategyDescriptor): Promise<LatencyMsg> {
  const d = new Disruptor<typeof benchSchema>({ layout: benchLayout, size: 1024, producerType: 'single', waitStrategy });
  let result: LatencyMsg | undefined;
  d.handleEventsWith(spec('createStage', { from: 'value', to: 's1' }))
    .then(spec('createStage', { from: 's1', to: 's2' }))
    .then(spec('createLatencySink', { expect: events, warmup: Math.floor(events / 10) }, (m) => (result = m as LatencyMsg)));
  const ring = await d.start();
  try {
    await producer({ ring: ring.describe(), count: events, batch: 1, mode: 'rate', ratePerSec });
    while (!result) await new Promise((r) => setTimeout(r, 1));
    return result;
  } finally {
    await d.shutdown(10_000);
  }
}

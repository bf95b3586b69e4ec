/**
 * A producer thread for the engine benchmark. `throughput` mode publishes as fast as the ring
 * allows, claiming `batch` slots at a time; `rate` mode publishes one event every 1/rate seconds and
 * stamps each with its send time.
 */
import { RingBuffer, seqAdd, type RingBufferDescriptor } from '@ollama-ring/disruptor';
import { parentPort, workerData } from 'node:worker_threads';
import { nowNs } from '../common/stats';
import type { benchSchema } from './layout';

export interface ProducerData {
  ring: RingBufferDescriptor;
  count: number;
  batch: number;
  mode: 'throughput' | 'rate';
  ratePerSec?: number;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function run(d: ProducerData): void {
  const ring = RingBuffer.attach<typeof benchSchema>(d.ring);
  const view = ring.createView();
  parentPort!.postMessage({ startNs: nowNs() });
  if (d.mode === 'throughput') {
    const batch = d.batch;
    let i = 0;
    if (batch === 1) {
      for (; i < d.count; i++) {
        const s = ring.next();
        view.at(s).value = i;
        ring.publish(s);
      }
    } else {
      while (i < d.count) {
        const n = Math.min(batch, d.count - i);
        const hi = ring.next(n);
        const lo = seqAdd(hi, 1 - n);
        for (let k = 0; k < n; k++) view.at(seqAdd(lo, k)).value = i++;
        ring.publishRange(lo, hi);
      }
    }
  } else {
    const intervalNs = 1e9 / (d.ratePerSec ?? 10_000);
    const t0 = nowNs();
    for (let i = 0; i < d.count; i++) {
      const due = t0 + i * intervalNs;
      // Sleep the gap rather than spin it: a spinning producer would take a core from the stages
      // on this 2-core machine. Latency is measured from the real send stamp, so timer slack only
      // makes the rate slightly lower, not the latencies wrong.
      const left = due - nowNs();
      if (left > 0) Atomics.wait(sleeper, 0, 0, left / 1e6);
      const s = ring.next();
      const e = view.at(s);
      e.value = i;
      e.stamp = nowNs();
      ring.publish(s);
    }
  }
  parentPort!.postMessage({ endNs: nowNs() });
}

run(workerData as ProducerData);

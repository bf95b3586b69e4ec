/**
 * One node of the MessageChannel baseline: the same topologies as the disruptor scenarios, with one
 * postMessage per event per edge. A producer posts numbers; a stage transforms and forwards; a sink
 * counts and reports to the main thread.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { createHistogram } from 'node:perf_hooks';
import { nowNs } from '../common/stats';

export type BaselineRole =
  | { role: 'producer'; out: MessagePort[]; count: number; ratePerSec?: number }
  | { role: 'stage'; in: MessagePort[]; out: MessagePort[] }
  | { role: 'sink'; in: MessagePort[]; expect: number; latency?: { warmup: number } };

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function main(d: BaselineRole): void {
  if (d.role === 'producer') {
    parentPort!.postMessage({ startNs: nowNs() });
    if (d.ratePerSec) {
      const intervalNs = 1e9 / d.ratePerSec;
      const t0 = nowNs();
      for (let i = 0; i < d.count; i++) {
        const left = t0 + i * intervalNs - nowNs();
        if (left > 0) Atomics.wait(sleeper, 0, 0, left / 1e6);
        const stamp = nowNs();
        for (const p of d.out) p.postMessage(stamp);
      }
    } else {
      for (let i = 0; i < d.count; i++) for (const p of d.out) p.postMessage(i);
    }
    // Ports stay open: the main thread terminates every node once the sink has reported.
    parentPort!.postMessage({ endNs: nowNs() });
    return;
  }
  if (d.role === 'stage') {
    for (const port of d.in) {
      port.on('message', (v: number) => {
        for (const p of d.out) p.postMessage(v);
      });
    }
    return;
  }
  let count = 0;
  let sum = 0;
  const h = createHistogram();
  for (const port of d.in) {
    port.on('message', (v: number) => {
      count++;
      if (d.latency) {
        if (count > d.latency.warmup) h.record(Math.max(1, Math.round(nowNs() - v)));
      } else sum = (sum + v) | 0;
      if (count === d.expect) {
        parentPort!.postMessage(d.latency ? { p50Ns: h.percentile(50), p99Ns: h.percentile(99), p999Ns: h.percentile(99.9), n: h.count } : { doneNs: nowNs(), count, sum });
      }
    });
  }
}

main(workerData as BaselineRole);

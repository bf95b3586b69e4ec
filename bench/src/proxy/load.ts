/**
 * The load generator: closed loops on an undici Pool, latencies in HDR histograms (µs). The same
 * code drives every target, so whatever it costs is the same for the direct run and the proxied
 * ones, and the differences are the proxies'.
 */
import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import { Pool } from 'undici';
import type { LoadJob, Percentiles, RequestsResult, StreamsResult } from './protocol';

const HEADERS = { 'content-type': 'application/json' };

function histogram(): hdr.Histogram {
  // 1 µs to 10 min at 3 significant digits; the pure-JS build (no WebAssembly start-up to wait for).
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
}

function percentiles(h: hdr.Histogram): Percentiles {
  const ms = (p: number): number => (h.totalCount === 0 ? NaN : h.getValueAtPercentile(p) / 1000);
  return { count: h.totalCount, p50Ms: ms(50), p90Ms: ms(90), p99Ms: ms(99), maxMs: h.totalCount === 0 ? NaN : h.maxValue / 1000 };
}

const us = (ms: number): number => Math.max(0, Math.round(ms * 1000));

/** After a failed request: a refusing target must not turn the loop into a busy spin. */
const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 10));

interface Window {
  warmEnd: number;
  end: number;
}

/** Calls `onPhase` when the measured window opens and closes, on time even if loops are busy. */
function window(job: LoadJob, onPhase: (p: 'measure' | 'end') => void): Window & { done: Promise<void> } {
  const t0 = performance.now();
  const w = { warmEnd: t0 + job.warmupMs, end: t0 + job.warmupMs + job.measureMs };
  const done = new Promise<void>((resolve) => {
    setTimeout(() => {
      onPhase('measure');
      setTimeout(() => {
        onPhase('end');
        resolve();
      }, job.measureMs);
    }, job.warmupMs);
  });
  return { ...w, done };
}

/** Non-streaming: `concurrency` loops, each sends its next request once the last body is read. */
export async function runRequests(job: LoadJob, onPhase: (p: 'measure' | 'end') => void): Promise<RequestsResult> {
  const pool = new Pool(job.url, { connections: job.concurrency, pipelining: 1 });
  const h = histogram();
  let completed = 0;
  let errors = 0;
  let firstError: string | undefined;
  const w = window(job, onPhase);
  const loop = async (): Promise<void> => {
    while (performance.now() < w.end) {
      const start = performance.now();
      try {
        const res = await pool.request({ path: job.path, method: 'POST', headers: HEADERS, body: job.body });
        const text = await res.body.text();
        const done = performance.now();
        if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${text.slice(0, 200)}`);
        // Requests that complete inside the window count, whenever they started.
        if (done >= w.warmEnd && done <= w.end) {
          completed++;
          h.recordValue(us(done - start));
        }
      } catch (e) {
        errors++;
        firstError ??= (e as Error).message;
        await pause();
      }
    }
  };
  await Promise.all([w.done, ...Array.from({ length: job.concurrency }, loop)]);
  await pool.close();
  return { kind: 'requests', completed, rps: completed / (job.measureMs / 1000), latency: percentiles(h), errors, firstError };
}

/**
 * Streaming: `concurrency` loops of one stream at a time. A stream counts when it started inside
 * the window; its time to first token line and the gaps between its token lines are recorded.
 * Lines that reach the client in one read get a gap of 0 (a proxy that coalesces shows up so).
 */
export async function runStreams(job: LoadJob, onPhase: (p: 'measure' | 'end') => void): Promise<StreamsResult> {
  const pool = new Pool(job.url, { connections: job.concurrency, pipelining: 1 });
  const ttft = histogram();
  const gap = histogram();
  let streams = 0;
  let lines = 0;
  let windowLines = 0;
  let errors = 0;
  let firstError: string | undefined;
  const w = window(job, onPhase);
  const one = async (): Promise<void> => {
    const start = performance.now();
    const measured = start >= w.warmEnd;
    const res = await pool.request({ path: job.path, method: 'POST', headers: HEADERS, body: job.body });
    if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}: ${(await res.body.text()).slice(0, 200)}`);
    let last = -1;
    let partial = '';
    let tokens = 0;
    let finished = false;
    for await (const chunk of res.body) {
      const now = performance.now();
      const parts = (partial + (chunk as Buffer).toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (line.length === 0) continue;
        if (line.includes('"done":true')) {
          finished = true;
          continue;
        }
        if (line.includes('"error"')) throw new Error(`in-band error: ${line.slice(0, 200)}`);
        tokens++;
        if (now >= w.warmEnd && now <= w.end) windowLines++;
        if (measured) {
          if (last < 0) ttft.recordValue(us(now - start));
          else gap.recordValue(us(now - last));
        }
        last = now;
      }
    }
    if (!finished) throw new Error('stream ended without its done line');
    if (measured) {
      streams++;
      lines += tokens;
    }
  };
  const loop = async (i: number): Promise<void> => {
    await new Promise((r) => setTimeout(r, ((job.staggerMs ?? 0) * i) / job.concurrency));
    while (performance.now() < w.end) {
      try {
        await one();
      } catch (e) {
        errors++;
        firstError ??= (e as Error).message;
        await pause();
      }
    }
  };
  await Promise.all([w.done, ...Array.from({ length: job.concurrency }, (_, i) => loop(i))]);
  await pool.close();
  return { kind: 'streams', streams, lines, windowLines, ttft: percentiles(ttft), gap: percentiles(gap), errors, firstError };
}

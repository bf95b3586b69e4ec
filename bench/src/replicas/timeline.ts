/**
 * `bench:replicas --timeline FILE`: what each replica saw through a run, sampled every 100 ms wall:
 * whether it shared the pool's slots (`/ready`'s `state.shared`), its queue by model, and each node's
 * requests in flight there, slots it counted as held elsewhere (and the other replicas' requests it
 * knew of) and resident models (`/api/stats`). With the client's records it shows when requests failed
 * and what the replicas were doing then (an outage's fallback, rejoin and queue).
 */
import { writeFileSync } from 'node:fs';
import type { ClientRecord } from './client';

export interface TimelineSample {
  /** Wall ms since the scenario's first send. */
  t: number;
  replicas: {
    shared: boolean | null;
    queue: number | null;
    /** Waiting requests by model. */
    waiting?: Record<string, number>;
    inFlight: Record<string, number>;
    elsewhere: Record<string, number>;
    /** Of those, the other replicas' requests this replica knows of (their holders). */
    remote?: Record<string, number>;
    /** Each node's resident models, as this replica knows them. */
    loaded?: Record<string, string[]>;
  }[];
}

interface Stats {
  queue: { depth: number; by_model: Record<string, number> };
  instances: Record<string, { active_requests: number; held_elsewhere?: number; remote_holders?: number; models_loaded: string[] }>;
}

/** Samples `urls()` every `everyMs` until stopped; `stop()` resolves with the samples. */
export function sampleTimeline(urls: () => readonly string[], clock: () => number, everyMs = 100): { stop(): Promise<TimelineSample[]> } {
  const samples: TimelineSample[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t = clock();
      const replicas = await Promise.all(urls().map((u) => probe(u)));
      samples.push({ t, replicas });
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return samples;
    },
  };
}

async function probe(url: string): Promise<TimelineSample['replicas'][number]> {
  try {
    const [ready, stats] = await Promise.all([
      fetch(`${url}/ready`, { signal: AbortSignal.timeout(500) }).then((r) => r.json() as Promise<{ state?: { shared: boolean } }>),
      fetch(`${url}/api/stats`, { signal: AbortSignal.timeout(500) }).then((r) => r.json() as Promise<Stats>),
    ]);
    const inFlight: Record<string, number> = {};
    const elsewhere: Record<string, number> = {};
    const remote: Record<string, number> = {};
    const loaded: Record<string, string[]> = {};
    for (const [id, n] of Object.entries(stats.instances)) {
      inFlight[id] = n.active_requests;
      elsewhere[id] = n.held_elsewhere ?? 0;
      remote[id] = n.remote_holders ?? 0;
      loaded[id] = n.models_loaded;
    }
    return { shared: ready.state?.shared ?? null, queue: stats.queue.depth, waiting: stats.queue.by_model, inFlight, elsewhere, remote, loaded };
  } catch {
    return { shared: null, queue: null, inFlight: {}, elsewhere: {} };
  }
}

/** Writes the samples and the requests as JSON lines: one per sample, then one per request (its times, and a failure's status and error). */
export function writeTimeline(file: string, kind: string, samples: readonly TimelineSample[], records: readonly ClientRecord[]): void {
  const lines = samples.map((s) => JSON.stringify({ kind, ...s }));
  for (const r of records) {
    const failure = r.ok ? {} : { failed: true, status: r.status, error: r.error?.slice(0, 160) };
    lines.push(JSON.stringify({ kind, request: r.id, startMs: r.startMs, firstByteMs: r.firstByteMs, endMs: r.endMs, retries: r.retries, ...failure }));
  }
  writeFileSync(file, lines.join('\n') + '\n', { flag: 'a' });
}

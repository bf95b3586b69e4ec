/** The soak's figures: memory growth after warm-up, and the text and markdown of a run's report. */
import type { MachineInfo } from '../common/machine';
import { mib, type QueueMemory } from './queue-memory';
import type { MemorySample, SoakResult } from './run';

export interface MemoryGrowth {
  warmupMs: number;
  /** Means of the first three samples after warm-up, and of the last three. */
  baseline: { rss: number; heapUsed: number; arena: number };
  final: { rss: number; heapUsed: number; arena: number };
  rssPct: number;
  heapPct: number;
  /** RSS less the byte arena's resident pages: what is not bounded by the arena's reservation. */
  rssLessArenaPct: number;
  peakRss: number;
}

/** Growth from just after warm-up to the end; undefined with too few samples after warm-up. */
export function memoryGrowth(samples: readonly MemorySample[], warmupMs: number): MemoryGrowth | undefined {
  const after = samples.filter((s) => s.atMs >= warmupMs);
  if (after.length < 4) return undefined;
  const mean = (xs: readonly MemorySample[]): { rss: number; heapUsed: number; arena: number } => ({
    rss: xs.reduce((a, s) => a + s.rss, 0) / xs.length,
    heapUsed: xs.reduce((a, s) => a + s.heapUsed, 0) / xs.length,
    arena: xs.reduce((a, s) => a + s.arenaResident, 0) / xs.length,
  });
  const n = Math.min(3, Math.floor(after.length / 2));
  const baseline = mean(after.slice(0, n));
  const final = mean(after.slice(-n));
  return {
    warmupMs,
    baseline,
    final,
    rssPct: (100 * (final.rss - baseline.rss)) / baseline.rss,
    heapPct: (100 * (final.heapUsed - baseline.heapUsed)) / baseline.heapUsed,
    rssLessArenaPct: (100 * (final.rss - final.arena - (baseline.rss - baseline.arena))) / (baseline.rss - baseline.arena),
    peakRss: Math.max(...samples.map((s) => s.rss)),
  };
}

export interface Report {
  command: string;
  machine: MachineInfo;
  minutes: number;
  concurrency: number;
  chaos: boolean;
  soak?: SoakResult;
  growth?: MemoryGrowth;
  queue?: QueueMemory;
}

const row = (m: MemorySample): string =>
  `| ${(m.atMs / 60_000).toFixed(1)} | ${mib(m.rss)} | ${mib(m.arenaResident)} | ${mib(m.heapUsed)} | ${mib(m.heapTotal)} | ${mib(m.external)} (${mib(m.arrayBuffers)}) |`;
const ms = (x: number): string => `${x.toFixed(x < 10 ? 1 : 0)} ms`;
const pct = (x: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(1)} %`;

/** The report as markdown (also what the console shows). */
export function markdown(r: Report): string {
  const out: string[] = [`# Soak${r.chaos ? ' and chaos' : ''} run, ${r.machine.date.slice(0, 10)}`, ''];
  out.push(`- command: \`${r.command}\``);
  out.push(`- machine: ${r.machine.cores} vCPU ${r.machine.cpu}, ${r.machine.memoryGiB} GiB, ${r.machine.platform}; Node ${r.machine.node}`);
  out.push(
    `- ${r.minutes} min, ${r.concurrency} concurrent clients, chaos ${r.chaos ? 'on' : 'off'}; the gateway in a child process of its own, the emulated nodes and the clients in the driver`,
  );
  const s = r.soak;
  if (s) {
    out.push('', '## Requests', '');
    out.push('| requests | req/s | p50 | p99 | max | p50 ok | p99 ok | bound | violations |', '|---|---|---|---|---|---|---|---|---|');
    out.push(
      `| ${s.requests} | ${(s.requests / (s.durationMs / 1000)).toFixed(0)} | ${ms(s.latencyMs.p50)} | ${ms(s.latencyMs.p99)} | ${ms(s.latencyMs.max)} | ${ms(s.okLatencyMs.p50)} | ${ms(s.okLatencyMs.p99)} | ${ms(s.boundMs)} | ${s.violations} |`,
    );
    out.push(
      '',
      'Ends by kind: ' +
        Object.entries(s.byEnd)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') +
        '.',
    );
    const details = Object.entries(s.byDetail).sort((a, b) => b[1] - a[1]);
    if (details.length > 0) out.push('', 'Errors:', '', ...details.slice(0, 15).map(([k, v]) => `- ${k}: ${v}`));
    if (Object.keys(s.chaos).length > 0)
      out.push(
        '',
        'Chaos actions: ' +
          Object.entries(s.chaos)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ') +
          '.',
      );
    out.push('', `Peak concurrent inference requests per node (slots): ${s.peaks.map((p) => `${p.id} ${p.peak} (${p.slots})`).join(', ')}.`);
    out.push(
      `After the run: ${s.unsettled ?? 'nothing in flight or queued'}; one request of each kind afterwards: ${s.afterwards.length === 0 ? 'all ok' : s.afterwards.join('; ')}.`,
    );
    if (s.adminFailures.length > 0) out.push(`Admin calls refused: ${s.adminFailures.slice(0, 5).join('; ')}.`);
    if (s.examples.length > 0) out.push('', 'Violations (first ones):', '', ...s.examples.map((e) => `- ${e}`));
  }
  const g = r.growth;
  if (s && s.memory.length > 0) {
    out.push('', '## Gateway memory (after a full GC)', '');
    if (g) {
      out.push(
        `After ${(g.warmupMs / 60_000).toFixed(1)} min of warm-up: heap ${mib(g.baseline.heapUsed)} → ${mib(g.final.heapUsed)} (${pct(g.heapPct)}), RSS ${mib(g.baseline.rss)} → ${mib(g.final.rss)} (${pct(g.rssPct)}); peak RSS ${mib(g.peakRss)}. Target: under +10 %. Of RSS, the byte arena's resident pages ${mib(g.baseline.arena)} → ${mib(g.final.arena)} (bounded by its reservation); RSS less the arena ${pct(g.rssLessArenaPct)}.`,
      );
    }
    out.push('', '| min | RSS | arena resident | heap used | heap total | external (array buffers) |', '|---|---|---|---|---|---|');
    // One sample a minute, and the last one.
    let nextMin = 0;
    s.memory.forEach((m, i) => {
      const last = i === s.memory.length - 1;
      if (m.atMs / 60_000 + 1e-9 < nextMin && !last) return;
      out.push(row(m));
      nextMin = Math.floor(m.atMs / 60_000) + 1;
    });
  }
  const q = r.queue;
  if (q) {
    out.push('', `## ${q.queued} queued requests`, '');
    out.push('One node with one slot, held by a request that hangs there; non-streaming requests wait behind it, each on its own connection.', '');
    out.push('| | heap | RSS |', '|---|---|---|');
    out.push(`| before | ${mib(q.before.heapUsed)} | ${mib(q.before.rss)} |`);
    out.push(`| ${q.queued} waiting | ${mib(q.waiting.heapUsed)} | ${mib(q.waiting.rss)} |`);
    out.push(`| after their clients left | ${mib(q.after.heapUsed)} | ${mib(q.after.rss)} |`);
    out.push(`| per queued request | ${(q.perRequest.heapUsed / 1024).toFixed(1)} KiB | ${(q.perRequest.rss / 1024).toFixed(1)} KiB |`);
    out.push('', `Queued in ${q.fillSeconds.toFixed(1)} s; in flight once every client had left: ${q.leftInFlight}.`);
  }
  return `${out.join('\n')}\n`;
}

/** The Markdown tables and the predictive-vs-least-in-flight target check. */
import { markdownTable } from '../common/table';
import type { StrategyResult } from './summary';

export interface TargetCheck {
  name: string;
  target: string;
  measured: string;
  met: boolean;
}

const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : String(x));
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : String(x));

export function resultsTable(results: readonly StrategyResult[], nodeIds: readonly string[]): string {
  return markdownTable(
    ['strategy', 'completed', 'failed', 'req/s', 'burst req/s', 'TTFT p50 ms', 'TTFT p99 ms', 'latency p99 ms', 'cold loads', `utilization (${nodeIds.join(' / ')})`],
    results.map((r) => [
      r.name,
      r.completed,
      r.failed,
      f2(r.throughputRps),
      f2(r.burstThroughputRps),
      f0(r.ttftP50Ms),
      f0(r.ttftP99Ms),
      f0(r.latencyP99Ms),
      r.coldLoads,
      nodeIds.map((id) => f2(r.utilization[id] ?? 0)).join(' / '),
    ]),
  );
}

/** Seed 002's targets for a balanced pool: every node busy under saturation, and little spread among them. */
export const SEED_TARGETS = { utilization: 0.8, imbalance: 0.05 } as const;

/**
 * Per strategy, the balancer's utilization per node and load imbalance next to seed 002's targets:
 * at least 80 % utilization of every node under saturation (the burst, at 150 % of capacity), and
 * under 5 % imbalance. The seed means equal nodes; this pool's differ in speed and models, so the
 * imbalance is the balancer's own, among the nodes serving the same model (the worst model).
 */
export function seedTargetsTable(results: readonly StrategyResult[], nodeIds: readonly string[]): string {
  const pct = (x: number | null): string => (x === null ? '-' : Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : String(x));
  const met = (ok: boolean): string => (ok ? 'met' : 'missed');
  return markdownTable(
    [
      'strategy',
      `utilization in the burst (${nodeIds.join(' / ')})`,
      `≥ ${SEED_TARGETS.utilization * 100} % on every node`,
      'imbalance, whole run / burst',
      `< ${SEED_TARGETS.imbalance * 100} % in the burst`,
    ],
    results.map((r) => {
      const burst = nodeIds.map((id) => r.burstUtilization[id] ?? 0);
      return [
        r.name,
        burst.map((u) => pct(u)).join(' / '),
        met(burst.every((u) => u >= SEED_TARGETS.utilization)),
        `${pct(r.imbalance)} / ${pct(r.burstImbalance)}`,
        r.burstImbalance === null ? '-' : met(r.burstImbalance < SEED_TARGETS.imbalance),
      ];
    }),
  );
}

export function diagnosticsTable(results: readonly StrategyResult[]): string {
  return markdownTable(
    [
      'strategy',
      'cold loads (sim / balancer saw)',
      'balancer-seen cold by phase (0-30 s / steady / burst / after)',
      'by cause (num_ctx / first copy / extra copy)',
      'evictions',
      'slot s held cold / hot',
      'routed per node',
      'queue p50 / p99 ms',
      'TTFT p99 burst ms',
      'TTFT p99 streamed ms',
      'failures',
      'send lag p99 ms',
    ],
    results.map((r) => [
      r.name,
      `${r.coldLoads} / ${r.coldLoadsBalancer}`,
      Object.values(r.coldBoundByPhase).join(' / '),
      Object.values(r.coldBoundByCause).join(' / '),
      r.evictions,
      `${(r.coldHeldMeanMs / 1000).toFixed(1)} / ${(r.hotHeldMeanMs / 1000).toFixed(1)}`,
      Object.values(r.routedByNode).join(' / '),
      `${f0(r.queueP50Ms)} / ${f0(r.queueP99Ms)}`,
      f0(r.ttftP99BurstMs),
      f0(r.ttftP99StreamMs),
      Object.entries(r.failures)
        .map(([k, v]) => `${k}×${v}`)
        .join(', ') || '-',
      f0(r.sendLagP99Ms),
    ]),
  );
}

/**
 * The self-checks: is the pool as fast as the capacity estimate assumes (hot slot time ÷ nominal,
 * and the capacity that implies), so are the phases really at their intended load; and are the
 * balancer's learned load times in the sim's units (learned ÷ timeScale ÷ configured, near 1).
 */
export function selfCheckTable(results: readonly StrategyResult[], nodeIds: readonly string[], rates: { estimateRps: number; steadyRps: number; burstRps: number }): string {
  const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(0)} %` : String(x));
  return markdownTable(
    [
      'strategy',
      `hot slot time ÷ nominal (pool; ${nodeIds.join(' / ')})`,
      `hot capacity req/s (measured vs estimate ${f2(rates.estimateRps)})`,
      'steady / burst load of measured capacity',
      'learned load ÷ timeScale ÷ configured (median)',
    ],
    results.map((r) => [
      r.name,
      `${f2(r.hotSlotRatio)}; ${nodeIds.map((id) => f2(r.hotSlotRatioByNode[id] ?? NaN)).join(' / ')}`,
      f2(r.measuredHotCapacityRps),
      `${pct(rates.steadyRps / r.measuredHotCapacityRps)} / ${pct(rates.burstRps / r.measuredHotCapacityRps)}`,
      f2(r.learnedLoadRatio),
    ]),
  );
}

/** The issue's targets: predictive against least-in-flight on the same trace. */
export function checkTargets(results: readonly StrategyResult[]): TargetCheck[] | undefined {
  const p = results.find((r) => r.name === 'predictive');
  const l = results.find((r) => r.name === 'least-in-flight');
  if (!p || !l) return undefined;
  const burst = p.burstThroughputRps / l.burstThroughputRps;
  const ttft = p.ttftP99Ms / l.ttftP99Ms;
  const cold = l.coldLoads === 0 ? (p.coldLoads === 0 ? 0 : Infinity) : p.coldLoads / l.coldLoads;
  return [
    { name: 'burst-phase throughput', target: '≥ 1.5×', measured: `${f2(burst)}× (${f2(p.burstThroughputRps)} vs ${f2(l.burstThroughputRps)} req/s)`, met: burst >= 1.5 },
    { name: 'p99 TTFT', target: '≤ 1/3 (0.33×)', measured: `${f2(ttft)}× (${f0(p.ttftP99Ms)} vs ${f0(l.ttftP99Ms)} ms)`, met: ttft <= 1 / 3 },
    { name: 'cold loads', target: '≤ 1/4 (0.25×)', measured: `${f2(cold)}× (${p.coldLoads} vs ${l.coldLoads})`, met: cold <= 0.25 },
    { name: 'failed requests (predictive)', target: '0', measured: String(p.failed), met: p.failed === 0 },
  ];
}

export function targetsTable(checks: readonly TargetCheck[]): string {
  return markdownTable(
    ['predictive vs least-in-flight', 'target', 'measured', ''],
    checks.map((c) => [c.name, c.target, c.measured, c.met ? 'met' : 'missed']),
  );
}

export interface ReportHeader {
  date: string;
  revision: string;
  machine: string;
  command: string;
  scenario: string;
}

/** The whole result as Markdown, for bench/results/*.md and the README. */
export function markdownReport(
  h: ReportHeader,
  results: readonly StrategyResult[],
  nodeIds: readonly string[],
  checks: readonly TargetCheck[] | undefined,
  selfCheck: string,
): string {
  return [
    `# bench:scheduling, ${h.date}`,
    '',
    `- Command: \`${h.command}\` at commit ${h.revision}`,
    `- Machine: ${h.machine}`,
    `- Scenario: ${h.scenario}`,
    '',
    'All times are unscaled (simulated) ms; req/s are per unscaled second.',
    '',
    resultsTable(results, nodeIds),
    '',
    seedTargetsTable(results, nodeIds),
    '',
    diagnosticsTable(results),
    '',
    selfCheck,
    '',
    ...(checks ? [targetsTable(checks), ''] : []),
  ].join('\n');
}

import { markdownTable } from '../common/table';
import { median } from '../common/stats';
import type { FaultCase } from './faults';
import type { FaultRun } from './run';

/** The targets: a hung node costs an affected request at most this beyond its expected first byte … */
export const EXTRA_TARGET_MS = 1_000;
/** … and is out of rotation at most this after its first missed deadline. */
export const OUT_TARGET_MS = 1_000;

/** One fault over every round: medians of the timings, sums of the counts. */
export interface FaultSummary {
  fault: FaultCase;
  rounds: FaultRun[];
  firstMissMs: number | null;
  outAfterMissMs: number | null;
  servedElsewhereMs: number | null;
  streamExtraMax: number | null;
  streamExtraP50: number | null;
  answerExtraMax: number | null;
  answerExtraP50: number | null;
  affected: number;
  lost: number;
  cut: number;
  shareBefore: number;
  shareDuring: number;
  suspicions: number;
  met: boolean;
  notes: string[];
}

function med(xs: (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null);
  return v.length === 0 ? null : median(v);
}

export function summariseFault(fault: FaultCase, rounds: FaultRun[]): FaultSummary {
  const sum = (k: 'affected' | 'lost' | 'cut' | 'suspicions') => rounds.reduce((a, r) => a + r[k], 0);
  const s: FaultSummary = {
    fault,
    rounds,
    firstMissMs: med(rounds.map((r) => r.firstMissMs)),
    outAfterMissMs: med(rounds.map((r) => r.outAfterMissMs)),
    servedElsewhereMs: med(rounds.map((r) => r.servedElsewhereMs)),
    streamExtraMax: med(rounds.map((r) => r.streamExtraMax)),
    streamExtraP50: med(rounds.map((r) => r.streamExtraP50)),
    answerExtraMax: med(rounds.map((r) => r.answerExtraMax)),
    answerExtraP50: med(rounds.map((r) => r.answerExtraP50)),
    affected: sum('affected'),
    lost: sum('lost'),
    cut: sum('cut'),
    shareBefore: med(rounds.map((r) => r.shareBefore)) ?? 0,
    shareDuring: med(rounds.map((r) => r.shareDuring)) ?? 0,
    suspicions: sum('suspicions'),
    met: true,
    notes: [],
  };
  const fail = (note: string) => {
    s.met = false;
    s.notes.push(note);
  };
  if (fault.kind === 'slow') {
    if (s.shareDuring <= 0) fail('the slow node was dropped');
    if (s.shareDuring >= s.shareBefore) fail('the slow node was not used less');
    if (rounds.some((r) => r.breakerAtEnd !== 'closed')) fail('the slow node’s breaker opened');
    return s;
  }
  if (s.lost > 0) fail(`${s.lost} requests lost before their first byte`);
  if ((fault.kind === 'deadline' || fault.kind === 'stall') && (s.outAfterMissMs === null || s.outAfterMissMs > OUT_TARGET_MS))
    fail(`out of rotation ${fmt(s.outAfterMissMs)} ms after the first miss`);
  if (fault.kind === 'stall') return s;
  if (s.streamExtraMax !== null && s.streamExtraMax > EXTRA_TARGET_MS) fail(`streams' first byte up to ${fmt(s.streamExtraMax)} ms late`);
  if (s.answerExtraMax !== null && s.answerExtraMax > EXTRA_TARGET_MS) fail(`non-streamed answers up to ${fmt(s.answerExtraMax)} ms late`);
  return s;
}

const fmt = (v: number | null): string => (v === null ? '–' : String(Math.round(v)));
const pct = (v: number): string => `${Math.round(v * 100)} %`;

export function faultTable(rows: readonly FaultSummary[]): string {
  return markdownTable(
    [
      'fault on node a',
      'first miss after fault (ms)',
      'out of rotation after first miss (ms)',
      'first byte of an affected request from another node (ms after fault)',
      'affected requests',
      'stream first byte, extra p50 / max (ms)',
      'non-streamed answer, extra p50 / max (ms)',
      'lost (no byte sent)',
      'streams cut mid-way',
      "a's share before → during",
      'targets',
    ],
    rows.map((s) => [
      `${s.fault.name}: ${s.fault.what}`,
      fmt(s.firstMissMs),
      fmt(s.outAfterMissMs),
      fmt(s.servedElsewhereMs),
      s.affected,
      `${fmt(s.streamExtraP50)} / ${fmt(s.streamExtraMax)}`,
      `${fmt(s.answerExtraP50)} / ${fmt(s.answerExtraMax)}`,
      s.lost,
      s.cut,
      `${pct(s.shareBefore)} → ${pct(s.shareDuring)}`,
      s.met ? 'met' : `missed: ${s.notes.join('; ')}`,
    ]),
  );
}

/**
 * pnpm bench:batch-model [--caps 0,3,6,10,20] [--seeds 20] [--cut-ms 5] [--lines 2000] [--hold-ms 0,100,200]
 *
 * A model of `bench:batch`'s batch scenario, in simulated time (no sockets, no emulator, no noise):
 * MIXED_POOL's slots, every request holding one for `serviceMs()`, interactive requests arriving
 * Poisson at half the capacity, and a batch backlog filling every slot nothing else holds. An
 * interactive request that finds no free slot cuts the youngest running batch line that has been
 * cut fewer than `cap` times (as `scheduler/preemption.ts` does), and starts `--cut-ms` later; the
 * cut line goes back to the head of the backlog and runs again from the start. With no line to
 * cut it waits for the first slot to free. `--hold-ms` tries the other way to spare batch work: a
 * slot an interactive request leaves stays free that long for the next one before a line takes it.
 *
 * It answers what a benchmark round is too noisy to: how the interactive TTFT p99 and the batch's
 * duration depend on the cut limit (`queue.batchPreemptions`), each the median over `--seeds`
 * seeds; and how much the p99 of one stretch of the interactive load alone varies with the
 * stretch's length (why the benchmark sends the same arrivals with and without the batch).
 */
import { parseArgs } from '../common/args';
import { median, percentile } from '../common/stats';
import { markdownTable } from '../common/table';
import { exponential, mulberry32 } from '../scheduling/rng';
import { MIXED_POOL, capacityRps, serviceMs, totalSlots } from './pool';

/** TTFT of a request that starts at once: prefill with the chat template, as the emulator answers (unscaled ms, measured p50 alone). */
const PREFILL_MS = 264;
const LOAD = 0.5;

interface Slot {
  kind: 'interactive' | 'batch';
  startedAt: number;
  /** A batch line's cuts so far. */
  cuts: number;
  cut: boolean;
}

interface Outcome {
  ttftP99: number;
  ttftP50: number;
  batchMs: number;
  cuts: number;
}

/** What happens at a moment: an interactive arrival, a slot's request ending, a cut slot freed. */
type Happening = { at: number } & (
  { type: 'arrival' } | { type: 'end'; slot: number; held: Slot } | { type: 'cut-done'; slot: number; held: Slot; arrivedAt: number } | { type: 'hold-over'; slot: number }
);
type Event = Happening & { seq: number };

/**
 * The events to come, soonest first (then in the order they were added). A sorted array: it never
 * holds more than the slots' ends, the next arrival and the cuts under way.
 */
class Agenda {
  private readonly events: Event[] = [];
  private seq = 0;

  push(e: Happening): void {
    const ev: Event = { ...e, seq: this.seq++ };
    let i = this.events.length;
    while (i > 0 && this.events[i - 1].at > ev.at) i--;
    this.events.splice(i, 0, ev);
  }

  pop(): Event | undefined {
    return this.events.shift();
  }
}

/** One batch of `lines` beside the interactive load, with a cut limit of `cap` (0: no cuts). */
export function simulateMixed(seed: number, cap: number, lines: number, cutMs: number, holdMs = 0): Outcome {
  const rnd = mulberry32(seed);
  const service = serviceMs();
  const rate = (capacityRps(MIXED_POOL) * LOAD) / 1000;
  const slots: (Slot | undefined)[] = new Array(totalSlots(MIXED_POOL)).fill(undefined);
  const agenda = new Agenda();
  const requeued: number[] = []; // cut lines' cut counts, head first
  const waiting: number[] = []; // interactive arrival times, oldest first
  const ttfts: number[] = [];
  let unstarted = lines;
  let done = 0;
  let cuts = 0;
  let batchMs = NaN;

  const startBatch = (i: number, now: number): void => {
    let c: number;
    if (requeued.length > 0) c = requeued.shift()!;
    else if (unstarted > 0) {
      unstarted--;
      c = 0;
    } else return void (slots[i] = undefined);
    const held: Slot = { kind: 'batch', startedAt: now, cuts: c, cut: false };
    slots[i] = held;
    agenda.push({ at: now + service, type: 'end', slot: i, held });
  };
  const startInteractive = (i: number, now: number, arrivedAt: number): void => {
    const held: Slot = { kind: 'interactive', startedAt: now, cuts: 0, cut: false };
    slots[i] = held;
    ttfts.push(now - arrivedAt + PREFILL_MS);
    agenda.push({ at: now + service, type: 'end', slot: i, held });
  };

  slots.forEach((_, i) => startBatch(i, 0));
  agenda.push({ at: exponential(rnd, rate), type: 'arrival' });
  for (let e = agenda.pop(); e; e = agenda.pop()) {
    const now = e.at;
    if (e.type === 'arrival') {
      if (done >= lines) continue;
      agenda.push({ at: now + exponential(rnd, rate), type: 'arrival' });
      const free = slots.indexOf(undefined);
      if (free >= 0) startInteractive(free, now, now);
      else if (waiting.length > 0) waiting.push(now);
      else {
        let victim = -1;
        slots.forEach((s, i) => {
          if (s?.kind === 'batch' && !s.cut && s.cuts < cap && (victim < 0 || s.startedAt > slots[victim]!.startedAt)) victim = i;
        });
        if (victim < 0) waiting.push(now);
        else {
          const held = slots[victim]!;
          held.cut = true;
          cuts++;
          requeued.unshift(held.cuts + 1);
          agenda.push({ at: now + cutMs, type: 'cut-done', slot: victim, held, arrivedAt: now });
        }
      }
    } else if (e.type === 'cut-done') {
      if (slots[e.slot] === e.held) startInteractive(e.slot, now, e.arrivedAt);
    } else if (e.type === 'hold-over') {
      if (slots[e.slot] === undefined) startBatch(e.slot, now);
    } else {
      if (slots[e.slot] !== e.held || e.held.cut) continue;
      if (e.held.kind === 'batch' && ++done === lines) batchMs = now;
      slots[e.slot] = undefined;
      if (waiting.length > 0) startInteractive(e.slot, now, waiting.shift()!);
      // Held free for the next interactive arrival a while, before a batch line may take it.
      else if (e.held.kind === 'interactive' && holdMs > 0) agenda.push({ at: now + holdMs, type: 'hold-over', slot: e.slot });
      else startBatch(e.slot, now);
    }
  }
  return { ttftP99: percentile(ttfts, 99), ttftP50: percentile(ttfts, 50), batchMs, cuts };
}

/** The interactive load alone for `ms`: its TTFT p99. */
export function simulateAlone(seed: number, ms: number): number {
  const rnd = mulberry32(seed);
  const service = serviceMs();
  const rate = (capacityRps(MIXED_POOL) * LOAD) / 1000;
  const freeAt: number[] = new Array(totalSlots(MIXED_POOL)).fill(0);
  const ttfts: number[] = [];
  for (let t = exponential(rnd, rate); t < ms; t += exponential(rnd, rate)) {
    let i = 0;
    for (let j = 1; j < freeAt.length; j++) if (freeAt[j] < freeAt[i]) i = j;
    const start = Math.max(t, freeAt[i]);
    ttfts.push(start - t + PREFILL_MS);
    freeAt[i] = start + service;
  }
  return percentile(ttfts, 99);
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const flag = (k: string, d: string): string => {
    const v = args.flags.get(k);
    return typeof v === 'string' ? v : d;
  };
  const caps = flag('caps', '0,3,6,10,20').split(',').map(Number);
  const seeds = Number(flag('seeds', '20'));
  const cutMs = Number(flag('cut-ms', '5'));
  const lines = Number(flag('lines', '2000'));
  const holds = flag('hold-ms', '0').split(',').map(Number);
  const ids = Array.from({ length: seeds }, (_, i) => 1 + i);
  const aloneLong = median(ids.map((s) => simulateAlone(s, 5_000_000)));
  const spareMs = (lines * serviceMs()) / totalSlots(MIXED_POOL) / (1 - LOAD);

  console.log(`# bench:batch's batch scenario, modelled (${seeds} seeds each, medians; cut ${cutMs} ms; ${lines} lines)\n`);
  console.log(`Interactive TTFT p99 alone, over 5,000 s: ${aloneLong.toFixed(0)} ms. The same over one stretch, by its length:\n`);
  const stretchRows = [150_000, 300_000, 900_000].map((ms) => {
    const p = ids.map((s) => simulateAlone(s, ms));
    return [`${ms / 1000} s`, percentile(p, 10).toFixed(0), median(p).toFixed(0), percentile(p, 90).toFixed(0)];
  });
  console.log(markdownTable(['stretch', 'p99, 10th pct of seeds', 'median', '90th pct'], stretchRows));
  console.log('\nBeside the batch, by the cut limit (`queue.batchPreemptions`):\n');
  const rows = caps.map((cap) => {
    const out = ids.map((s) => simulateMixed(s, cap, lines, cutMs));
    const p99 = median(out.map((o) => o.ttftP99));
    const batchMs = median(out.map((o) => o.batchMs));
    return [
      String(cap),
      `${p99.toFixed(0)} ms (${(p99 / aloneLong).toFixed(2)}×)`,
      `${median(out.map((o) => o.ttftP50)).toFixed(0)} ms`,
      `${(batchMs / 1000).toFixed(0)} s (${(batchMs / spareMs).toFixed(2)}×)`,
      median(out.map((o) => o.cuts)).toFixed(0),
    ];
  });
  console.log(markdownTable(['cut limit', 'interactive TTFT p99 (÷ alone)', 'p50', 'batch duration (÷ the capacity left)', 'cuts'], rows));
  if (holds.some((h) => h > 0)) {
    console.log(`\nA slot an interactive request leaves held free this long before a batch line may take it (cut limit ${caps[caps.length - 1]}):\n`);
    const held = holds.map((h) => {
      const out = ids.map((s) => simulateMixed(s, caps[caps.length - 1], lines, cutMs, h));
      const batchMs = median(out.map((o) => o.batchMs));
      return [`${h} ms`, `${(median(out.map((o) => o.ttftP99)) / aloneLong).toFixed(2)}×`, `${(batchMs / spareMs).toFixed(2)}×`];
    });
    console.log(markdownTable(['held', 'interactive TTFT p99 ÷ alone', 'batch duration ÷ the capacity left'], held));
  }
}

if (require.main === module) main();

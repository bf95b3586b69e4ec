/**
 * pnpm bench:profile FILE.cpuprofile [OTHER.cpuprofile …] [--top N] [--by function|file]
 *
 * The top entries of a V8 CPU profile (as `bench:proxy --cpu-prof DIR` writes one per proxy), by self
 * time, as a markdown table: each entry's share of the busy time (idle excluded), an entry being a
 * function and its file (or a file, with `--by file`). Given several profiles (before and after a
 * change, the gateway and the passthrough), it lists the top entries of any, side by side, in the
 * order of the first.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from '../common/args';

/** The parts of a `.cpuprofile` (Chrome DevTools' format) this reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileShares {
  /** Busy time in ms: every sample but `(idle)`. */
  busyMs: number;
  /** Self time per entry, as a fraction of the busy time. */
  shares: Map<string, number>;
}

/** `node_modules/.pnpm/x/node_modules/undici/lib/a.js` → `undici/lib/a.js`; `/repo/packages/b/dist/c.js` → `b/dist/c.js`. */
function shortPath(url: string): string {
  return url
    .replace(/^.*\/node_modules\//, '')
    .replace(/^.*\/packages\//, '')
    .replace(/^file:\/\//, '');
}

/** Self time per function (`name file:line`) or per file, idle left out. */
export function profileShares(profile: CpuProfile, by: 'function' | 'file' = 'function'): ProfileShares {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = nodes.get(profile.samples[i]);
    const dt = profile.timeDeltas[i] ?? 0;
    if (!frame || frame.functionName === '(idle)') continue;
    busy += dt;
    const file = shortPath(frame.url);
    // Function and file, not the line: lines move between the builds a comparison puts side by side.
    const key = by === 'file' ? file || frame.functionName : `${frame.functionName || '(anonymous)'}${file ? ` ${file}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  const shares = new Map<string, number>();
  for (const [k, v] of self) shares.set(k, busy > 0 ? v / busy : 0);
  return { busyMs: busy / 1000, shares };
}

const pct = (x: number | undefined): string => (x === undefined ? '–' : `${(100 * x).toFixed(1)} %`);

/** The markdown table of the top `top` entries of one profile, or of two side by side. */
export function topTable(profiles: { label: string; shares: ProfileShares }[], top: number): string {
  const keys: string[] = [];
  for (const p of profiles) {
    const ranked = [...p.shares.shares].sort((a, b) => b[1] - a[1]).slice(0, top);
    for (const [k] of ranked) if (!keys.includes(k)) keys.push(k);
  }
  const first = profiles[0].shares.shares;
  keys.sort((a, b) => (first.get(b) ?? 0) - (first.get(a) ?? 0));
  const head = `| entry (self time) | ${profiles.map((p) => p.label).join(' | ')} |`;
  const rule = `|---|${profiles.map(() => '---:').join('|')}|`;
  const rows = keys.map((k) => `| \`${k.replace(/\|/g, '\\|')}\` | ${profiles.map((p) => pct(p.shares.shares.get(k))).join(' | ')} |`);
  return [head, rule, ...rows].join('\n');
}

function main(): void {
  const argv = process.argv.slice(2);
  const files = argv.filter((a) => a.endsWith('.cpuprofile'));
  const args = parseArgs(argv.filter((a) => !a.endsWith('.cpuprofile')));
  if (files.length === 0) throw new Error('usage: bench:profile FILE.cpuprofile [OTHER.cpuprofile …] [--top N] [--by function|file]');
  const top = Number(args.flags.get('top') ?? 25);
  const by = args.flags.get('by') === 'file' ? 'file' : 'function';
  const profiles = files.map((f) => ({ label: basename(f, '.cpuprofile'), shares: profileShares(JSON.parse(readFileSync(f, 'utf8')) as CpuProfile, by) }));
  for (const p of profiles) console.log(`${p.label}: ${p.shares.busyMs.toFixed(0)} ms busy`);
  console.log(`\n${topTable(profiles, top)}`);
}

if (require.main === module) main();

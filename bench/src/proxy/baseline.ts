/**
 * The previous build as a target: a git worktree of another commit (by default the code before
 * the last change to it, see autoBaseline), installed
 * and built on its own, whose balancer and gateway gateway-child.ts then loads instead of this
 * tree's. Both builds are measured in the same run, under the same load, on the same machine.
 *
 * Built worktrees are kept, one per commit sha, under node_modules/.cache (not under bench/: jest
 * collects every `test/` folder there, and would run the old tree's tests), so a second run against
 * the same commit starts at once. A worktree whose install or build fails, or is interrupted, is
 * removed again; only the newest few built ones are kept.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { processAlive as alive } from '@ollama-ring/server';
import { onCleanup } from './cleanup';

/** What `--baseline` defaults to: the code before the last change to it (see autoBaseline). */
export const DEFAULT_BASELINE_REF = 'auto';
/** What the gateway is built from: a change elsewhere (docs, bench) does not make a new build. */
export const CODE_PATHS = ['packages', 'pnpm-lock.yaml'];
/** `--baseline none` (or `off`, `false`) runs without the previous build. */
const OFF = new Set(['none', 'off', 'false', 'no']);
/** Built worktrees kept in the cache; older ones are removed when a new one is built. */
export const KEEP_BUILT = 3;
/** Written into a worktree once its install and build succeeded: the cache's "done". */
export const READY_FILE = '.bench-baseline-ready.json';

/** The repository this bench runs from: bench/dist/proxy → the root. */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const DEFAULT_CACHE_DIR = join(REPO_ROOT, 'node_modules', '.cache', 'ollama-ring-bench', 'baseline');

/** The ref `--baseline` names, or undefined when the previous build is not wanted. */
export function baselineRef(flags: Map<string, string | true>): string | undefined {
  if (flags.has('no-baseline')) return undefined;
  const v = flags.get('baseline');
  if (v === undefined) return DEFAULT_BASELINE_REF;
  if (v === true) throw new Error(`--baseline needs a git ref (a commit, branch or tag), 'auto' (the default) or 'none'`);
  return OFF.has(v.toLowerCase()) ? undefined : v;
}

/** A commit that is built and ready to run. */
export interface BaselineBuild {
  ref: string;
  sha: string;
  /** The commit's subject line. */
  subject: string;
  /** The worktree; gateway-child.ts loads `<dir>/packages/{balancer,server}` from it. */
  dir: string;
  /** True when a build from an earlier run was reused. */
  cached: boolean;
  /** Time taken to install and build (0 when cached). */
  buildMs: number;
}

/** What the report says about the previous build. */
export type BaselineInfo = { ref: string; sha: string; subject: string; dir: string; cached: boolean; buildMs: number } | { ref: string | null; skipped: string; reason: string };

export interface PrepareOptions {
  /** The repository whose history holds the ref (default: this one). */
  repo?: string;
  /** Where worktrees are kept (default: DEFAULT_CACHE_DIR). */
  cacheDir?: string;
  /** Commands run in the new worktree, in order (default: install with the frozen lockfile, then `tsc -b`). */
  steps?: (dir: string) => Step[];
  log?: (line: string) => void;
}

export interface Step {
  what: string;
  cmd: string;
  args: string[];
}

/** The default steps: the old tree's own dependencies and its own TypeScript. */
export function defaultSteps(dir: string): Step[] {
  return [
    { what: 'install', cmd: 'npx', args: ['-y', 'pnpm@10', 'install', '--frozen-lockfile', '--prefer-offline'] },
    // The gateway and what it references (balancer, disruptor, sim), not the old bench.
    { what: 'build', cmd: join(dir, 'node_modules', '.bin', 'tsc'), args: ['-b', 'packages/server'] },
  ];
}

function git(repo: string, args: string[]): string {
  const r = spawnSync('git', ['-C', repo, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${(r.stderr || r.stdout || `exit ${r.status}`).trim()}`);
  return r.stdout.trim();
}

/**
 * `--baseline auto`: the gateway as it was before the change being measured.
 * - packages/ or the lockfile differ from HEAD (uncommitted work, which this tree's build is made
 *   from): HEAD;
 * - otherwise the parent of the last commit that changed them. Not simply HEAD~1: after a commit
 *   to the docs or the bench, HEAD~1 holds the same gateway, and the comparison would say nothing.
 */
export function autoBaseline(repo: string): { ref: string; why: string } {
  const dirty = spawnSync('git', ['-C', repo, 'diff', '--quiet', 'HEAD', '--', ...CODE_PATHS]);
  if (dirty.status === 1) return { ref: 'HEAD', why: `${CODE_PATHS.join(' or ')} changed since HEAD, not committed` };
  const last = git(repo, ['log', '-1', '--format=%h %s', 'HEAD', '--', ...CODE_PATHS]);
  if (!last) throw new Error(`no commit changes ${CODE_PATHS.join(' or ')}`);
  const [sha, ...subject] = last.split(' ');
  return { ref: `${sha}~1`, why: `the parent of ${sha} "${subject.join(' ')}", the last commit that changed ${CODE_PATHS.join(' or ')}` };
}

/** The full sha of `ref` (any commit-ish), or an error naming the ref. */
export function resolveCommit(repo: string, ref: string): { sha: string; subject: string } {
  const sha = git(repo, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  return { sha, subject: git(repo, ['log', '-1', '--format=%s', sha]) };
}

/** Runs one step in its own process group, so that an interrupted run can end all of it. */
function run(step: Step, cwd: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(step.cmd, step.args, { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
    let out = '';
    const keep = (d: Buffer): void => {
      out = (out + d.toString()).slice(-6000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const kill = (): void => {
      try {
        if (proc.pid !== undefined && proc.exitCode === null) process.kill(-proc.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const off = onCleanup(async () => kill());
    proc.once('error', (e) => {
      off();
      reject(new Error(`${step.what}: ${step.cmd}: ${e.message}`));
    });
    proc.once('exit', (code, signal) => {
      off();
      if (code === 0) resolvePromise();
      else reject(new Error(`${step.what} (${[step.cmd, ...step.args].join(' ')}) failed with ${code ?? signal}:\n${out.trim()}`));
    });
  });
}

/** Removes a worktree (registered or not) and forgets it in git. */
export function removeWorktree(repo: string, dir: string): void {
  spawnSync('git', ['-C', repo, 'worktree', 'remove', '--force', '--force', dir], { encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  spawnSync('git', ['-C', repo, 'worktree', 'prune'], { encoding: 'utf8' });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * One builder per sha at a time: two bench runs started together must not install into the same
 * worktree. The lock file holds the builder's pid; a lock whose process is gone is taken over.
 */
async function lock(file: string, log: (l: string) => void): Promise<() => void> {
  let said = false;
  for (;;) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      const release = (): void => rmSync(file, { force: true });
      const off = onCleanup(async () => release());
      return () => {
        off();
        release();
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number(readFileSync(file, 'utf8').trim());
    if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
      rmSync(file, { force: true });
      continue;
    }
    if (!said) log(`previous build: waiting for process ${holder}, which is building the same commit`);
    said = true;
    await sleep(500);
  }
}

/** Removes the oldest built worktrees beyond `keep`, never `current`. */
export function pruneCache(repo: string, cacheDir: string, keep: number, current: string): string[] {
  if (!existsSync(cacheDir)) return [];
  const built = readdirSync(cacheDir)
    .map((name) => join(cacheDir, name))
    .filter((d) => d !== current && existsSync(join(d, READY_FILE)))
    .map((d) => ({ d, t: statSync(join(d, READY_FILE)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  const old = built.slice(Math.max(0, keep - 1)).map((x) => x.d);
  for (const d of old) removeWorktree(repo, d);
  return old;
}

/**
 * Checks out `ref` in a worktree of its own, installs and builds it (or reuses the build of an
 * earlier run of the same sha), and returns where it is. Throws with the failing step's output.
 */
export async function prepareBaseline(ref: string, o: PrepareOptions = {}): Promise<BaselineBuild> {
  const repo = o.repo ?? REPO_ROOT;
  const cacheDir = o.cacheDir ?? DEFAULT_CACHE_DIR;
  const log = o.log ?? ((l: string) => console.log(l));
  const { sha, subject } = resolveCommit(repo, ref);
  const dir = join(cacheDir, sha);
  const ready = join(dir, READY_FILE);
  mkdirSync(cacheDir, { recursive: true });
  const unlock = await lock(join(cacheDir, `${sha}.lock`), log);
  try {
    if (existsSync(ready) && existsSync(join(dir, '.git'))) {
      // Touched, so the cache keeps the builds last used.
      writeFileSync(ready, readFileSync(ready));
      return { ref, sha, subject, dir, cached: true, buildMs: 0 };
    }
    // A worktree without its ready file is one whose build failed or was cut short.
    removeWorktree(repo, dir);
    const removeIfInterrupted = onCleanup(async () => removeWorktree(repo, dir));
    const t0 = performance.now();
    try {
      log(`previous build: ${ref} = ${sha.slice(0, 12)} "${subject}": worktree at ${dir}`);
      git(repo, ['worktree', 'add', '--detach', dir, sha]);
      for (const step of (o.steps ?? defaultSteps)(dir)) {
        log(`previous build: ${step.what} (${[step.cmd.replace(`${dir}/`, ''), ...step.args].join(' ')})`);
        await run(step, dir);
      }
    } catch (e) {
      removeWorktree(repo, dir);
      throw e;
    } finally {
      removeIfInterrupted();
    }
    const buildMs = Math.round(performance.now() - t0);
    writeFileSync(ready, `${JSON.stringify({ ref, sha, subject, builtAt: new Date().toISOString(), buildMs })}\n`);
    const removed = pruneCache(repo, cacheDir, KEEP_BUILT, dir);
    if (removed.length) log(`previous build: removed ${removed.length} older cached build(s)`);
    log(`previous build: ready in ${(buildMs / 1000).toFixed(0)} s`);
    return { ref, sha, subject, dir, cached: false, buildMs };
  } finally {
    unlock();
  }
}

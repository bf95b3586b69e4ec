/**
 * The harness of the `ollama-ring batch` tests: the built CLI as a child process (killed after each
 * test if still running), the CLI in-process, a scratch directory, and readers of result files.
 * Needs `tsc -b` first (scripts/test builds before jest).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runCli } from '../../src/cli';
import type { CliIo } from '../../src/commands/types';
import type { Result } from './batch-helpers';

const CLI = resolve(__dirname, '..', '..', 'dist', 'cli.js');

export interface Ran {
  code: number | null;
  out: string;
  err: string;
}

const children: ChildProcess[] = [];

/** The CLI as a child; `during` runs while it does (to signal it). */
export function cli(args: string[], during?: (p: ChildProcess, err: () => string) => Promise<void>, env: Record<string, string> = {}): Promise<Ran> {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.push(proc);
  let out = '';
  let err = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => void (out += c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => void (err += c));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return Promise.all([exited, during?.(proc, () => err)]).then(([code]) => ({ code, out, err }));
}

export async function inProcess(argv: string[], env: Record<string, string> = {}): Promise<Ran> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false, env };
  const code = await runCli(argv, io);
  return { code, out, err };
}

/** The result lines of a file, each checked to be whole JSON. */
export function readResults(path: string): Result[] {
  const text = readFileSync(path, 'utf8');
  expect(text === '' || text.endsWith('\n')).toBe(true);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Result);
}

export function counts(rs: Result[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of rs) m.set(r.custom_id, (m.get(r.custom_id) ?? 0) + 1);
  return m;
}

/**
 * Registers the suite's hooks: a scratch directory for its files, and no CLI child left running
 * after a test. Returns where a file of that directory is.
 */
export function cliSuite(): (name: string) => string {
  let dir = '';
  afterEach(() => {
    for (const p of children.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  });
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx -y pnpm@10 exec tsc -b packages/server)`);
    dir = mkdtempSync(join(tmpdir(), 'batch-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return (name: string) => join(dir, name);
}

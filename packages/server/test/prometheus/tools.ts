import { spawn } from 'node:child_process';
import { join } from 'node:path';

// The real Prometheus tools (Debian's `prometheus` package, installed by scripts/ensure-tools): a
// missing binary fails the test that needs it, with the reason, never skips it.

/** The repository's root, from this file (packages/server/test/prometheus). */
export const REPO = join(__dirname, '..', '..', '..', '..');

export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args`, feeding `input` on stdin, and resolves when it exits (rejects if it cannot start). */
export function runTool(cmd: string, args: readonly string[], input?: string, cwd = REPO): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (e) => reject(new Error(`cannot run ${cmd} (scripts/ensure-tools installs it): ${e.message}`)));
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.on('error', () => undefined); // a tool that exits before reading all of stdin
    child.stdin.end(input ?? '');
  });
}

/** `promtool args…`; the run's output is in the error when it fails, so a red test says why. */
export async function promtool(args: readonly string[], input?: string): Promise<ToolRun> {
  const r = await runTool('promtool', args, input);
  if (r.code !== 0) throw new Error(`promtool ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r;
}

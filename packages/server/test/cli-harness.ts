// What the in-process CLI tests share: `runCli` with captured output, and files in a temporary
// directory made before the file's tests and removed after them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli';
import type { CliIo } from '../src/commands/types';

export interface Captured {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in process with `env` as its environment; its exit code and what it wrote. */
export async function run(argv: string[], env: Record<string, string | undefined> = {}): Promise<Captured> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false, env };
  const code = await runCli(argv, io);
  return { code, out, err };
}

/** A temporary directory for this test file (registers its own beforeAll/afterAll): `file` writes into it. */
export function tempFiles(prefix: string): { dir: () => string; file: (name: string, text: string) => string } {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir: () => dir,
    file(name, text) {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    },
  };
}

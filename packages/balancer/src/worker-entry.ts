import { PipelineStateError } from './errors';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The compiled path of a worker entry of this package, given its path below `src/` (e.g.
 * `stages/dispatch-worker.js`). Worker threads load JS only, so when this code runs from source
 * (under jest) the entry is taken from `dist/`, which the build produces.
 */
export function workerEntry(relative: string): string {
  const candidates = [join(__dirname, relative), join(__dirname, '..', 'dist', relative)];
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new PipelineStateError(`worker entry ${relative} not found (looked in ${candidates.join(', ')}); build @ollama-ring/balancer first`);
  return found;
}

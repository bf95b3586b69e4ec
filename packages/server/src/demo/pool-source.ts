/** Finds the demo's simulated pool: `--pool FILE`, else config/sim-pool.yaml, else the embedded copy. */
import type { SimPoolConfig } from '@ollama-ring/ollama-sim';
import { simPackage } from '../commands/optional-deps';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EMBEDDED_SIM_POOL } from './embedded-pool';

export interface PoolSource {
  config: SimPoolConfig;
  /** The file it came from, or `embedded`. */
  from: string;
}

/**
 * The repository's config/sim-pool.yaml, found from this file (src/demo and dist/demo are both four
 * levels below the repository root, so `pnpm exec` works from any directory) or from the working
 * directory.
 */
function defaultPoolCandidates(cwd = process.cwd()): string[] {
  return [join(__dirname, '..', '..', '..', '..', 'config', 'sim-pool.yaml'), join(cwd, 'config', 'sim-pool.yaml')];
}

/**
 * Loads the pool and prepares it for the demo: every port 0 (never collides with anything
 * running), the given time scale, and no per-request logging (the live view owns the terminal).
 */
export function demoPoolConfig(file: string | undefined, timeScale: number): PoolSource {
  let src: PoolSource;
  if (file !== undefined) src = { config: simPackage().loadSimConfig(resolve(file)), from: resolve(file) };
  else {
    const found = defaultPoolCandidates().find((f) => existsSync(f));
    src = found ? { config: simPackage().loadSimConfig(found), from: found } : { config: structuredClone(EMBEDDED_SIM_POOL), from: 'embedded' };
  }
  return {
    from: src.from,
    config: { ...src.config, timeScale, verbose: false, nodes: src.config.nodes.map((n) => ({ ...n, port: 0 })) },
  };
}

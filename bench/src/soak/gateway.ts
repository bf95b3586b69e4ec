/**
 * The system under soak: the emulated pool (always in this process, where the chaos reaches its
 * nodes directly) and the real gateway over it, in this process (the short runs in jest) or in a
 * child process of its own (`pnpm test:soak`, so that its memory is measured alone). Either way the
 * gateway reads its config from a JSON file, which the chaos rewrites before each reload.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PipelineFactory, type BalancerConfig } from '@ollama-ring/balancer';
import { startSimPool, type SimPool } from '@ollama-ring/ollama-sim';
import { Gateway, allRoutes } from '@ollama-ring/server';
import { writeConfig } from './chaos';
import { soakConfig, soakPool } from './config';
import type { MemorySample } from './run';

export interface SoakEnv {
  sim: SimPool;
  gatewayUrl: string;
  base: BalancerConfig;
  configFile: string;
  /** The gateway process's memory after a full GC (child only). */
  sampleMemory?: () => Promise<Omit<MemorySample, 'atMs'>>;
  close(): Promise<void>;
}

/** Messages between the soak and its gateway child. */
export type ToGateway = { type: 'memory'; id: number } | { type: 'stop' };
export type FromGateway = { type: 'ready'; url: string } | { type: 'failed'; error: string } | ({ type: 'memory'; id: number } & Omit<MemorySample, 'atMs'>);

/** Reads the config file as the gateway's `loadConfig` does. */
export function readConfig(file: string): BalancerConfig {
  return JSON.parse(readFileSync(file, 'utf8')) as BalancerConfig;
}

async function prepare(tweak?: (c: BalancerConfig) => void): Promise<{ sim: SimPool; base: BalancerConfig; dir: string; configFile: string }> {
  const sim = await startSimPool(soakPool(), { log: () => undefined });
  const slots = new Map(soakPool().nodes.map((n) => [n.id, n.numParallel ?? 1]));
  const base = soakConfig(sim.nodes.map((n) => ({ id: n.id, url: n.url, slots: slots.get(n.id) ?? 1 })));
  tweak?.(base);
  const dir = mkdtempSync(join(tmpdir(), 'ollama-ring-soak-'));
  const configFile = join(dir, 'config.json');
  writeConfig(configFile, base);
  return { sim, base, dir, configFile };
}

/** The gateway in this process. */
export async function startInProcess(tweak?: (c: BalancerConfig) => void): Promise<SoakEnv> {
  const { sim, base, dir, configFile } = await prepare(tweak);
  const factory = await PipelineFactory.fromConfig(readConfig(configFile)).start();
  const gateway = new Gateway({ factory, routes: allRoutes, loadConfig: () => readConfig(configFile) });
  const addr = await gateway.listen(0, '127.0.0.1');
  return {
    sim,
    base,
    configFile,
    gatewayUrl: `http://127.0.0.1:${addr.port}`,
    async close() {
      await gateway.close(5_000);
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The gateway in a child process (`gateway-child.js` beside this file), run with `--expose-gc`. */
export async function startChild(tweak?: (c: BalancerConfig) => void): Promise<SoakEnv> {
  const { sim, base, dir, configFile } = await prepare(tweak);
  const proc = fork(join(__dirname, 'gateway-child.js'), [configFile], { execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the gateway child was not ready after 30 s')), 30_000);
    proc.once('exit', (code) => reject(new Error(`the gateway child exited with ${code} before it was ready`)));
    proc.on('message', (m: FromGateway) => {
      if (m.type === 'failed') reject(new Error(m.error));
      if (m.type !== 'ready') return;
      clearTimeout(timer);
      resolve(m.url);
    });
  });
  let next = 0;
  const sampleMemory = (): Promise<Omit<MemorySample, 'atMs'>> =>
    new Promise((resolve) => {
      const id = ++next;
      const on = (m: FromGateway): void => {
        if (m.type !== 'memory' || m.id !== id) return;
        proc.off('message', on);
        resolve({ rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, arenaResident: m.arenaResident });
      };
      proc.on('message', on);
      proc.send({ type: 'memory', id } satisfies ToGateway);
    });
  return {
    sim,
    base,
    configFile,
    gatewayUrl: url,
    sampleMemory,
    async close() {
      if (proc.connected) proc.send({ type: 'stop' } satisfies ToGateway);
      const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The simulated pool under test, alone in its own process so that the load generator's work does
 * not count against it. Started by main.ts with fork(); talks over the IPC channel.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { sharedTicker, startSimPool, type SimPoolConfig } from '@ollama-ring/ollama-sim';
import { EmissionProbe } from './emission-probe';
import { PerTaskTimers } from './per-task-timers';
import type { ChildMessage, ParentMessage, SimChildOptions } from './protocol';

function send(m: ChildMessage): void {
  process.send?.(m);
}

async function run(opts: SimChildOptions): Promise<void> {
  const config: SimPoolConfig = {
    timeScale: 1,
    models: [{ name: 'bench-model:1b', parameterSize: '1B', loadMs: 0, responseTokens: { min: opts.tokens, max: opts.tokens } }],
    nodes: Array.from({ length: opts.nodes }, (_, i) => ({
      id: `node-${i}`,
      numParallel: opts.streamsPerNode,
      keepAlive: -1,
      tokensPerSec: opts.tokensPerSec,
      promptTokensPerSec: 5000,
      models: ['bench-model:1b'],
      preload: ['bench-model:1b'],
    })),
  };
  const probe = new EmissionProbe(opts.timer === 'per-task' ? new PerTaskTimers() : sharedTicker, 1000 / opts.tokensPerSec);
  const pool = await startSimPool(config, { ticker: probe });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'measure-start') {
      loop.enable();
      cpu0 = process.cpuUsage();
      t0 = performance.now();
      return;
    }
    loop.disable();
    const cpu = process.cpuUsage(cpu0);
    send({
      type: 'stats',
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      wallSeconds: (performance.now() - t0) / 1000,
      loopDelayP50Ms: loop.percentile(50) / 1e6,
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      loopDelayMaxMs: loop.max / 1e6,
      tokensServed: pool.state().reduce((a, s) => a + s.tokens, 0),
      emission: m.type === 'stop' ? probe.summary(m.windowFromEpochMs, m.windowToEpochMs) : probe.summary(0, Infinity),
    });
    void pool.close().then(() => process.exit(0));
  });
  send({ type: 'ready', urls: pool.nodes.map((n) => n.url) });
}

void run(JSON.parse(process.argv[2] ?? '{}') as SimChildOptions).catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});

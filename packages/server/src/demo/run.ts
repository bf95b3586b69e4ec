/** The demo from start to finish: pool up, traffic with a live view, summary, everything down. */
import type { CliIo } from '../commands/types';
import { EXIT_FAILURE, EXIT_OK } from '../commands/types';
import { LiveView } from './live-view';
import { demoPoolConfig } from './pool-source';
import { Sampler } from './sampler';
import { startDemoStack } from './stack';
import { renderSummary, summarize } from './summary';
import { Workload } from './workload';

export interface DemoOptions {
  durationMs: number;
  users: number;
  burst: number;
  timeScale: number;
  pool?: string;
  seed: number;
  color: boolean;
}

/** Resolves with the exit status: 0 when requests went through, 1 when none did. */
export async function startDemo(opts: DemoOptions, io: CliIo): Promise<number> {
  const pool = demoPoolConfig(opts.pool, opts.timeScale);
  io.out(
    `Starting ${pool.config.nodes.length} simulated Ollama nodes (${pool.from === 'embedded' ? 'built-in copy of config/sim-pool.yaml' : pool.from}, ` +
      `timeScale ${opts.timeScale}) and a gateway in front of them…\n`,
  );
  const stack = await startDemoStack(pool.config);
  io.out(
    `Gateway on ${stack.url}: try \`curl ${stack.url}/api/ps\` or \`ollama-ring status --url ${stack.url}\` while it runs.\n` +
      `Nodes: ${stack.sim.nodes.map((n) => `${n.id} ${n.url}`).join(', ')}\n\n`,
  );
  const loadsAtStart = new Map(stack.sim.state().map((s) => [s.id, s.loadsStarted]));
  const workload = new Workload({
    url: stack.url,
    durationMs: opts.durationMs,
    users: opts.users,
    burstSize: opts.burst,
    seed: opts.seed,
    drainMs: 10_000,
  });
  const sampler = new Sampler(stack.sim, stack.factory, workload, { url: stack.url, durationMs: opts.durationMs });
  const view = new LiveView(io, { tty: io.isTTY, color: opts.color, columns: io.columns });

  // Ctrl-C (or SIGTERM) ends the traffic early but still shows the summary; a second one quits.
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) {
      view.stop();
      process.exit(EXIT_FAILURE);
    }
    interrupted = true;
    workload.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const started = performance.now();
  try {
    view.start(() => sampler.sample());
    await workload.run();
    sampler.done = true;
    view.stop(sampler.sample());
    const elapsedMs = Math.min(performance.now() - started, opts.durationMs);
    const loads = new Map(stack.sim.state().map((s) => [s.id, s.loadsStarted - (loadsAtStart.get(s.id) ?? 0)]));
    io.out(
      renderSummary({
        results: workload.results,
        elapsedMs,
        strategy: stack.factory.getPipeline().getStrategy(),
        nodes: stack.sim.nodes.map((n) => n.id),
        loads,
        color: opts.color,
      }),
    );
    const n = summarize(workload.results, loads);
    return n.ok > 0 ? EXIT_OK : EXIT_FAILURE;
  } finally {
    view.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stack.close();
    io.out('Shut down: gateway drained and closed, simulated nodes stopped.\n');
  }
}

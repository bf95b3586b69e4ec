/**
 * The two executors `bench:workflow` compares, on the same pool, graph and requests:
 *   - ours: `WorkflowRunner` (each task as soon as what it needs has ended, heaviest chain first);
 *   - waves: the reference, as seed 002 plans it: the graph cut into levels, each level run whole
 *     (as many at once as the pool has slots) before the next starts.
 * Both send each task as one non-streamed generate through the same pipeline.
 */
import { performance } from 'node:perf_hooks';
import { checkWorkflow, InferenceRequest, type PipelineFactory, resolveVars, WorkflowRunner, workflowOf } from '@ollama-ring/balancer';
import { type BenchTask, levels, workflowDoc } from './graph';
import { TOTAL_SLOTS } from './pool';

type Factory = Awaited<ReturnType<ReturnType<typeof PipelineFactory.fromConfig>['start']>>;

export interface Execution {
  /** Wall ms from the first request to the last answer. */
  makespanMs: number;
  failed: number;
  /** Per node: busy ÷ capacity slot time over the run, as the balancer measures it (`PoolView.usage`). */
  utilization: Record<string, number>;
}

function usage(f: Factory): Record<string, { busy: number; capacity: number }> {
  return Object.fromEntries(Object.entries(f.getPoolView().usage).map(([id, u]) => [id, { busy: u.busySlotMs, capacity: u.capacitySlotMs }]));
}

function utilizationSince(f: Factory, from: ReturnType<typeof usage>): Record<string, number> {
  const to = usage(f);
  return Object.fromEntries(Object.entries(to).map(([id, u]) => [id, (u.busy - (from[id]?.busy ?? 0)) / Math.max(1, u.capacity - (from[id]?.capacity ?? 0))]));
}

export async function runOurs(f: Factory, tasks: readonly BenchTask[]): Promise<Execution> {
  const wf = workflowOf(workflowDoc(tasks));
  const vars = resolveVars(wf);
  checkWorkflow(wf, vars);
  const runner = new WorkflowRunner(wf, { pipeline: () => f.getPipeline(), vars, concurrency: TOTAL_SLOTS });
  const mark = usage(f);
  const t0 = performance.now();
  const r = await runner.run();
  const makespanMs = performance.now() - t0;
  return { makespanMs, failed: Object.values(r.tasks).filter((t) => t.status !== 'succeeded').length, utilization: utilizationSince(f, mark) };
}

export async function runWaves(f: Factory, tasks: readonly BenchTask[]): Promise<Execution> {
  const level = levels(tasks);
  const depth = Math.max(...level.values());
  const pipeline = f.getPipeline();
  let failed = 0;
  const mark = usage(f);
  const t0 = performance.now();
  for (let l = 0; l <= depth; l++) {
    const wave = tasks.filter((t) => level.get(t.id) === l);
    let next = 0;
    // TOTAL_SLOTS workers drain the wave; the next wave waits for all of them.
    await Promise.all(
      Array.from({ length: Math.min(TOTAL_SLOTS, wave.length) }, async () => {
        while (next < wave.length) {
          const t = wave[next++];
          try {
            await pipeline.submit(InferenceRequest.ofPrompt(t.model, `step ${t.id}`, { options: { num_predict: t.tokens } }));
          } catch {
            failed++;
          }
        }
      }),
    );
  }
  return { makespanMs: performance.now() - t0, failed, utilization: utilizationSince(f, mark) };
}

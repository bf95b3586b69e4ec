/**
 * `ollama-ring batch run` without `--url`: the lines run in this process, through a balancer over
 * the pool of `--config` (no gateway needed), by the same `BatchRunner` the gateway's jobs use.
 */
import { type BalancerConfig, PipelineFactory } from '@ollama-ring/balancer';
import { BatchRunner } from '../batch/runner';
import type { BatchLine } from '../batch/types';
import type { DirItem } from './batch-dir';
import { type BatchOutput, failed, type Progress } from './batch-output';
import type { RunOutcome } from './batch-remote';

export interface LocalRun {
  config: BalancerConfig;
  /** The lines still to answer (an error item is written at once, not sent). */
  items: AsyncIterable<DirItem>;
  output: BatchOutput;
  progress: Progress;
  concurrency: number;
  /** First Ctrl-C: no line starts any more; the running ones finish and are written. */
  stop: AbortSignal;
  /** Second Ctrl-C: the running lines are aborted, and not written (running again sends them). */
  abort: AbortSignal;
}

/** Runs the lines, each as a request of class `batch`, and writes each result as it comes. */
export async function runLocal(r: LocalRun): Promise<RunOutcome> {
  const factory = PipelineFactory.fromConfig(r.config);
  await factory.start();
  const outcome: RunOutcome = { completed: 0, failed: 0, stopped: false };
  try {
    const runner = new BatchRunner(() => factory.getPipeline(), { concurrency: r.concurrency });
    async function* lines(): AsyncGenerator<BatchLine> {
      for await (const item of r.items) {
        if ('line' in item) {
          yield item.line;
          continue;
        }
        await r.output.write(item.error);
        r.progress.add(item.error);
        outcome.failed++;
      }
    }
    const summary = await runner.run(
      lines(),
      async (res) => {
        // Cut by the second Ctrl-C: left out of the file, so that it runs again next time.
        if (res.aborted) return;
        const line = BatchRunner.resultLine(res);
        await r.output.write(line);
        r.progress.add(line);
        if (failed(line)) outcome.failed++;
        else outcome.completed++;
      },
      { signal: r.abort, stop: r.stop },
    );
    outcome.stopped = summary.stopped || r.abort.aborted;
    return outcome;
  } finally {
    await factory.stop(1_000);
  }
}

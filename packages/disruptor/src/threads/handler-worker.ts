/**
 * Entry point of a handler thread: attaches to the shared ring, builds the user's handler from its
 * module, then runs a batch or work processor until the barrier is alerted.
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { BatchEventProcessor } from '../batch-event-processor';
import type { EventHandler, ExceptionHandler, WorkHandler } from '../event-handler';
import type { EventProcessor } from '../event-processor';
import { RingBuffer } from '../ring-buffer';
import { Sequence } from '../sequence';
import { SequenceBarrier } from '../sequence-barrier';
import { WorkProcessor } from '../work-processor';
import type { HandlerWorkerData, WorkerHandlerContext, WorkerToHost } from './worker-protocol';

function send(msg: WorkerToHost): void {
  parentPort!.postMessage(msg);
}

/** Reports handler errors to the host (which owns logging) and carries on. */
class ReportToHost implements ExceptionHandler {
  handleEventException(error: unknown, sequence: number): void {
    send({ type: 'handler-error', phase: 'event', sequence, ...describe(error) });
  }
  handleOnStartException(error: unknown): void {
    send({ type: 'handler-error', phase: 'start', sequence: -1, ...describe(error) });
  }
  handleOnShutdownException(error: unknown): void {
    send({ type: 'handler-error', phase: 'shutdown', sequence: -1, ...describe(error) });
  }
}

function describe(error: unknown): { message: string; stack?: string } {
  return error instanceof Error ? { message: error.message, stack: error.stack } : { message: String(error) };
}

async function main(): Promise<void> {
  const data = workerData as HandlerWorkerData;
  const ring = RingBuffer.attach(data.ring);
  const barrier = SequenceBarrier.attach(ring.sequencer, data.barrier);
  const sequence = Sequence.attach(data.sequence);
  const specifier = isAbsolute(data.module) ? pathToFileURL(data.module).href : data.module;
  const mod = (await import(specifier)) as Record<string, unknown>;
  const factory = (mod[data.exportName] ?? (mod.default as Record<string, unknown> | undefined)?.[data.exportName]) as
    ((options: unknown, ctx: WorkerHandlerContext) => unknown) | undefined;
  if (typeof factory !== 'function') {
    throw new TypeError(`module ${data.module} has no function export '${data.exportName}'`);
  }
  const ctx: WorkerHandlerContext = {
    postMessage: (message) => send({ type: 'user', message }),
    name: data.name,
    threadId,
  };
  const handler = await factory(data.options, ctx);
  const exceptionHandler = new ReportToHost();
  const processor: EventProcessor =
    data.kind === 'work'
      ? new WorkProcessor(ring, barrier, handler as WorkHandler, Sequence.attach(data.workSequence!), {
          sequence,
          exceptionHandler,
        })
      : new BatchEventProcessor(ring, barrier, handler as EventHandler, {
          sequence,
          exceptionHandler,
          maxBatchSize: data.maxBatchSize,
        });
  send({ type: 'ready' });
  if (data.mode === 'event-loop') await processor.runAsync();
  else processor.run();
  send({ type: 'stopped' });
}

main().catch((err: unknown) => {
  // Rethrown outside the promise so the thread dies with an 'error' event the host reports.
  setImmediate(() => {
    throw err;
  });
});

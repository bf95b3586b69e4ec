/**
 * @ollama-ring/disruptor: a Disruptor-style engine over SharedArrayBuffer and Atomics.
 * Generic: it knows nothing of Ollama.
 */
export * from './errors';
export * from './sequence';
export * from './sequence-group';
export * from './record-layout';
export type { EventView } from './event-view';
export * from './ring-buffer';
export * from './sequencer';
export * from './single-producer-sequencer';
export * from './multi-producer-sequencer';
export * from './sequence-barrier';
export * from './wait-strategies';
export * from './event-handler';
export type { EventProcessor } from './event-processor';
export * from './batch-event-processor';
export * from './work-processor';
export * from './work-pool';
export * from './dsl';
export type { WorkerHandlerSpec, WorkerHandlerContext } from './threads/worker-protocol';
export { resolveWorkerEntry } from './threads/worker-host';
export * from './bytes';

import type { DispatchJob, DispatchOutcome, NodeEndpoint } from './dispatch';

/**
 * What the scheduler dispatches through: the inline `Dispatcher` (undici on the main thread) or
 * the `WorkerDispatcher` (the same, on worker threads). Where dispatch runs is configuration.
 */
export interface DispatchPort {
  setNodes(nodes: readonly NodeEndpoint[]): void;
  dispatch(job: DispatchJob): Promise<DispatchOutcome>;
  close(): Promise<void>;
}

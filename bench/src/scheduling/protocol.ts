/** Messages between the bench driver and the child process that hosts the simulated pool. */
import type { SimNodeState, SimPoolConfig } from '@ollama-ring/ollama-sim';

export interface SimChildOptions {
  config: SimPoolConfig;
}

export type ChildMessage = { type: 'ready'; nodes: { id: string; url: string }[] } | { type: 'state'; nodes: SimNodeState[] };

export type ParentMessage = { type: 'state' } | { type: 'stop' };

import type { EventProcessor } from './event-processor';
import type { Sequence } from './sequence';
import type { SequenceBarrier } from './sequence-barrier';
import type { WorkerHost } from './threads/worker-host';

/** One node of the handler graph: a single handler, or a work pool that acts as one. */
export interface ConsumerInfo {
  /** The handlers (objects or worker specs) this node was built from; identity is the lookup key. */
  readonly keys: readonly object[];
  /** The sequences later stages and producers gate on. */
  readonly sequences: readonly Sequence[];
  readonly barriers: readonly SequenceBarrier[];
  /** Processors that run on the main thread's event loop. */
  readonly inline: readonly EventProcessor[];
  /** Threads that run the rest. */
  readonly hosts: readonly WorkerHost[];
  /** True until a later stage is added after this one. */
  endOfChain: boolean;
}

/** The handler graph, as the DSL builds it. */
export class ConsumerRepository {
  private readonly consumers: ConsumerInfo[] = [];

  add(info: ConsumerInfo): void {
    this.consumers.push(info);
  }

  all(): readonly ConsumerInfo[] {
    return this.consumers;
  }

  /** The node that holds `key`, or undefined. */
  find(key: object): ConsumerInfo | undefined {
    return this.consumers.find((c) => c.keys.includes(key));
  }

  /** Marks the nodes owning these sequences as having a later stage. */
  unmarkEndOfChain(sequences: readonly Sequence[]): void {
    for (const c of this.consumers) {
      if (c.sequences.some((s) => sequences.includes(s))) c.endOfChain = false;
    }
  }

  /** What producers gate on: the sequences of every last stage. */
  lastStageSequences(): Sequence[] {
    return this.consumers.filter((c) => c.endOfChain).flatMap((c) => [...c.sequences]);
  }
}

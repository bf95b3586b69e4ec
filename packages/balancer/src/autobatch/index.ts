import { type CoalescerDeps, EmbedCoalescer } from './coalescer';

export { COALESCED_HEADER, EmbedCoalescer, type EmbedTicket } from './coalescer';
export { type EmbedResult, runEmbed, type RunningEmbed } from './embed-call';
export { partsFor } from './split-plan';

/**
 * The embedding autobatch of one balancer: the coalescer (`autobatch.*`). The background
 * `/api/embed/batch` jobs are the server package's `EmbedJobs`, on its durable batch store.
 */
export class Autobatch {
  readonly coalescer: EmbedCoalescer;

  constructor(deps: CoalescerDeps) {
    this.coalescer = new EmbedCoalescer(deps);
  }

  /** Sends the calls still gathering: the first step of a shutdown. */
  close(): void {
    this.coalescer.flushAll();
  }
}

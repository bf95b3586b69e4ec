import { type CoalescerDeps, EmbedCoalescer } from './coalescer';
import { EmbedJobs } from './embed-jobs';

export { COALESCED_HEADER, EmbedCoalescer, type EmbedTicket } from './coalescer';
export { BatchJobError, EmbedJobs, type EmbedJobResults, type EmbedJobStatus, type EmbedJobSummary } from './embed-jobs';
export { type EmbedResult, runEmbed, type RunningEmbed } from './embed-call';
export { partsFor } from './split-plan';

/** The embedding autobatch of one balancer: the coalescer and the batch jobs (`autobatch.*`). */
export class Autobatch {
  readonly coalescer: EmbedCoalescer;
  readonly jobs: EmbedJobs;

  constructor(deps: CoalescerDeps) {
    this.coalescer = new EmbedCoalescer(deps);
    this.jobs = new EmbedJobs(deps);
  }

  /** Sends the calls still gathering and takes no more jobs: the first step of a shutdown. */
  close(): void {
    this.coalescer.flushAll();
    this.jobs.close();
  }
}

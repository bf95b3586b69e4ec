/** `--verbose`: the scheduler's decisions as debug lines, one per routing, retry and cold load. */
import type { SchedulerObserver } from '@ollama-ring/balancer';
import type { Logger } from 'pino';

/**
 * An observer that logs why each request went where it did. The scheduler calls it on its own
 * thread of control for every decision, so it only formats when debug is enabled.
 *
 * @example PipelineFactory.fromConfig(cfg, { observer: routingLogger(log.child({ component: 'scheduler' })) });
 */
export function routingLogger(log: Logger): SchedulerObserver {
  return {
    routed(e) {
      if (!log.isLevelEnabled('debug')) return;
      log.debug(
        {
          requestId: e.requestId,
          model: e.model,
          node: e.nodeId,
          strategy: e.strategy,
          cold: e.cold,
          queueMs: Math.round(e.queueMs),
          candidates: e.candidates,
        },
        'routed',
      );
    },
    retry(nodeId, requestId, reason) {
      log.debug({ requestId, node: nodeId, reason }, 'retry');
    },
    coldLoad(nodeId, model) {
      log.debug({ node: nodeId, model }, 'cold load');
    },
    rejected(kind, detail) {
      log.debug({ kind, detail }, 'rejected');
    },
  };
}

/** Logs node state transitions (health, breaker, admin enable/disable/drain) as they are seen. */
import type { NodeRegistry, NodeSnapshot } from '@ollama-ring/balancer';
import type { Logger } from 'pino';

const key = (n: NodeSnapshot): string => `${n.health}|${n.breakerState}|${n.adminDisabled}|${n.draining}`;

/**
 * Polls the registry (snapshots are cheap) rather than hooking the scheduler: health results are
 * applied inside the scheduler without an observer event, and one line per change is all we want.
 * The timer is unref'd, so it never keeps the process alive. Returns a stop function.
 */
export function logNodeTransitions(registry: NodeRegistry, log: Logger, everyMs = 1_000): () => void {
  const seen = new Map<string, string>();
  const tick = (): void => {
    const live = new Set<string>();
    for (const n of registry.getAllNodes()) {
      live.add(n.id);
      const k = key(n);
      const before = seen.get(n.id);
      if (before === k) continue;
      seen.set(n.id, k);
      const fields = { node: n.id, url: n.url, health: n.health, breaker: n.breakerState, disabled: n.adminDisabled, draining: n.draining };
      if (before === undefined) log.info(fields, 'node added');
      else log.info({ ...fields, lastError: n.lastError || undefined }, 'node state changed');
    }
    for (const id of seen.keys()) {
      if (!live.has(id)) {
        seen.delete(id);
        log.info({ node: id }, 'node removed');
      }
    }
  };
  tick();
  const timer = setInterval(tick, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

import { Counter, Gauge, type Registry } from 'prom-client';
import type { ClassCounts } from './scheduler/pool-view';

const CLASSES = ['interactive', 'batch'] as const;

/**
 * The request-class and fair-queue families, on the balancer's registry, set from a view of the
 * pool at each scrape (nothing per request): `requests_queued{class}` and `requests_running{class}`
 * (`interactive` or `batch`), and `fair_queue_served_total{key}`, the requests bound per API key
 * name (`anonymous` without a key, `other` for client keys that are no configured API key; never
 * the secret), counted by the scheduler as it binds; `batch_preemptions_total`, the batch lines cut
 * for interactive requests.
 *
 * @example
 * const c = new ClassMetrics(registry, 'ollama_lb_');
 * c.sync(view.classes, view.fairShare);
 */
export class ClassMetrics {
  private readonly queued: Gauge<'class'>;
  private readonly running: Gauge<'class'>;
  private readonly served: Counter<'key'>;
  private readonly preempted: Counter;
  private preemptedSeen = 0;
  /** The scheduler's totals as last seen, per key, so the counter moves by the difference. */
  private readonly seen = new Map<string, number>();

  constructor(registry: Registry, prefix: string) {
    const registers = [registry];
    this.queued = new Gauge({ name: `${prefix}requests_queued`, help: 'Requests waiting for a slot, by class (interactive, batch).', labelNames: ['class'], registers });
    this.running = new Gauge({
      name: `${prefix}requests_running`,
      help: 'Requests holding a node slot (leases included), by class (interactive, batch).',
      labelNames: ['class'],
      registers,
    });
    this.served = new Counter({
      name: `${prefix}fair_queue_served_total`,
      help: 'Requests bound to a node, by API key name (anonymous: no key; other: a client key that is no configured API key): each key’s share of the fair queue.',
      labelNames: ['key'],
      registers,
    });
    this.preempted = new Counter({
      name: `${prefix}batch_preemptions_total`,
      help: 'Batch lines cut (and queued again) to free their slots for interactive requests that found none (queue.batchPreemptions).',
      registers,
    });
    this.seedZeros();
  }

  sync(classes: ClassCounts, served: Readonly<Record<string, number>>): void {
    for (const c of CLASSES) {
      this.queued.set({ class: c }, classes.queued[c]);
      this.running.set({ class: c }, classes.running[c]);
    }
    for (const [key, total] of Object.entries(served)) {
      const before = this.seen.get(key) ?? 0;
      if (total > before) this.served.inc({ key }, total - before);
      this.seen.set(key, total);
    }
    if (classes.preempted > this.preemptedSeen) this.preempted.inc(classes.preempted - this.preemptedSeen);
    this.preemptedSeen = classes.preempted;
  }

  /** Forgets the totals seen (the registry's reset zeroes the values). */
  reset(): void {
    this.seen.clear();
    this.preemptedSeen = 0;
    this.seedZeros();
  }

  private seedZeros(): void {
    for (const c of CLASSES) {
      this.queued.set({ class: c }, 0);
      this.running.set({ class: c }, 0);
    }
  }
}

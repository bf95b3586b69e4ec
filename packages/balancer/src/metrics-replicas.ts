import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Lease acquire round trips to Redis, in seconds: a local Redis answers in well under a millisecond. */
const ACQUIRE_BUCKETS = [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5];

/**
 * The replica families (`state.backend: redis`), on the balancer's registry, counted by the Redis
 * backend as its commands end (nothing on the memory backend's path):
 * `replica_lease_acquire_seconds` (one lease's round trip), `replica_leases_reclaimed_total`
 * (expired leases of replicas that stopped renewing, swept by this one), `replica_redis_errors_total`
 * (commands that failed or timed out), `replica_fallback` (1 while this replica works on its local
 * share because Redis is out), `replica_replicas_seen` (replicas alive at the last heartbeat) and
 * `replica_node_rate_refused_total{node}` (lease asks refused for the node's shared rate).
 *
 * @example
 * const m = new ReplicaMetrics(registry, 'ollama_lb_');
 * m.recordAcquire(0.0004);
 */
export class ReplicaMetrics {
  private readonly acquire: Histogram;
  private readonly reclaimed: Counter;
  private readonly errors: Counter;
  private readonly fallback: Gauge;
  private readonly replicas: Gauge;
  private readonly nodeRateRefused: Counter<'node'>;

  constructor(registry: Registry, prefix: string) {
    const registers = [registry];
    this.acquire = new Histogram({
      name: `${prefix}replica_lease_acquire_seconds`,
      help: 'Round trip of one slot lease acquire to Redis (granted or not).',
      buckets: ACQUIRE_BUCKETS,
      registers,
    });
    this.reclaimed = new Counter({
      name: `${prefix}replica_leases_reclaimed_total`,
      help: 'Slot leases past their TTL (their replica stopped renewing them) taken back by this replica.',
      registers,
    });
    this.errors = new Counter({ name: `${prefix}replica_redis_errors_total`, help: 'Redis commands that failed or timed out.', registers });
    this.fallback = new Gauge({
      name: `${prefix}replica_fallback`,
      help: "1 while Redis is out and this replica works on its local share of each node's slots, else 0.",
      registers,
    });
    this.replicas = new Gauge({ name: `${prefix}replica_replicas_seen`, help: 'Replicas of this pool alive at the last heartbeat (this one included).', registers });
    this.nodeRateRefused = new Counter({
      name: `${prefix}replica_node_rate_refused_total`,
      help: "Slot lease asks Redis refused because the node's shared rate bucket (rateLimit.perNode) was empty; the request waited or went to another node.",
      labelNames: ['node'],
      registers,
    });
  }

  recordNodeRateRefused(node: string): void {
    this.nodeRateRefused.inc({ node });
  }

  recordAcquire(seconds: number): void {
    this.acquire.observe(seconds);
  }

  recordReclaimed(n: number): void {
    if (n > 0) this.reclaimed.inc(n);
  }

  recordError(): void {
    this.errors.inc();
  }

  setFallback(on: boolean): void {
    this.fallback.set(on ? 1 : 0);
  }

  setReplicas(n: number): void {
    this.replicas.set(n);
  }
}

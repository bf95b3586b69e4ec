import { Counter, Histogram, type Registry } from 'prom-client';

/** Callers per combined call: powers of two up to the largest `autobatch.maxInputs` one would set. */
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

/**
 * The embedding autobatch families, on the balancer's registry, counted as combined calls end
 * (nothing on any other request's path): `embed_coalesced_calls_total` (upstream `/api/embed` calls
 * the coalescer made, one per combined call before any split), `embed_batch_size` (callers per
 * combined call, a histogram), `embed_requests_coalesced_total` (callers answered from a call they
 * shared with at least one other) and `embed_split_parts_total` (parts of calls split across nodes).
 *
 * @example
 * const m = new AutobatchMetrics(registry, 'ollama_lb_');
 * m.recordCall(12, 1);
 */
export class AutobatchMetrics {
  private readonly calls: Counter;
  private readonly size: Histogram;
  private readonly coalesced: Counter;
  private readonly parts: Counter;

  constructor(registry: Registry, prefix: string) {
    const registers = [registry];
    this.calls = new Counter({ name: `${prefix}embed_coalesced_calls_total`, help: 'Combined /api/embed calls the autobatch coalescer sent (before any split).', registers });
    this.size = new Histogram({ name: `${prefix}embed_batch_size`, help: 'Callers per combined embedding call.', buckets: SIZE_BUCKETS, registers });
    this.coalesced = new Counter({
      name: `${prefix}embed_requests_coalesced_total`,
      help: 'Embedding requests answered from an upstream call shared with at least one other request.',
      registers,
    });
    this.parts = new Counter({ name: `${prefix}embed_split_parts_total`, help: 'Parts of embedding calls split across the nodes that have the model loaded.', registers });
  }

  /** A combined call of `callers` requests, sent as `parts` upstream calls. */
  recordCall(callers: number, parts: number): void {
    this.calls.inc();
    this.size.observe(callers);
    if (callers > 1) this.coalesced.inc(callers);
    if (parts > 1) this.parts.inc(parts);
  }
}

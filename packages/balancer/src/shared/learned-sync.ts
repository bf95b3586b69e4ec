import type Redis from 'ioredis';
import type { LearnedFigure, LearnedFigures } from '../scheduler/estimates';

/**
 * What the replicas learn of the nodes, shared so that a new replica starts warm: each renewal round
 * a replica writes its learned figures (load time, prefill and generation rates, service time per
 * node and model) into one hash (`<prefix>learned`, field `<node> <model>`, the last writer's), and a
 * replica joining reads it once and fills in what it has not learned itself. Resident models need
 * no sharing: every replica reads each node's `/api/ps` before it takes requests.
 */
export class LearnedSync {
  private readonly key: string;

  constructor(
    private readonly client: Redis,
    prefix: string,
  ) {
    this.key = `${prefix}learned`;
  }

  /** Writes the figures this replica has a sample of. */
  async publish(learned: LearnedFigures, ttlMs: number): Promise<void> {
    const fields: string[] = [];
    for (const [node, models] of Object.entries(learned)) {
      for (const [model, f] of Object.entries(models)) {
        const known = Object.fromEntries(Object.entries(f).filter(([, v]) => Number.isFinite(v) && v > 0));
        if (Object.keys(known).length > 0) fields.push(`${node} ${model}`, JSON.stringify(known));
      }
    }
    if (fields.length === 0) return;
    await this.client
      .multi()
      .hset(this.key, ...fields)
      .pexpire(this.key, ttlMs)
      .exec();
  }

  /** Everything kept, by node and model. */
  async read(): Promise<LearnedFigures> {
    const all = await this.client.hgetall(this.key);
    const out: Record<string, Record<string, LearnedFigure>> = {};
    for (const [field, json] of Object.entries(all)) {
      const at = field.indexOf(' ');
      if (at <= 0) continue;
      try {
        const f = JSON.parse(json) as Partial<LearnedFigure>;
        (out[field.slice(0, at)] ??= {})[field.slice(at + 1)] = {
          loadMs: f.loadMs ?? NaN,
          prefillTps: f.prefillTps ?? NaN,
          generateTps: f.generateTps ?? NaN,
          serviceMs: f.serviceMs ?? NaN,
        };
      } catch {
        // Not ours (or torn): skipped.
      }
    }
    return out;
  }
}

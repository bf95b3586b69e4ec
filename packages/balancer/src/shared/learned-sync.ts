import type Redis from 'ioredis';
import type { LearnedFigure, LearnedFigures } from '../scheduler/estimates';

/**
 * What the replicas learn of the nodes, shared so that a new replica starts warm: each renewal round
 * a replica writes its learned figures (load time, prefill and generation rates, service time per
 * node and model) into one hash (`<prefix>learned`, field `<node> <model>`, the last writer's), and
 * reads it back, filling in what it has not learned itself (a replica joining, before it takes requests). Resident models need
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

  /**
   * A renewal round: writes this replica's figures (kept a day past the last replica's last write:
   * what a pool's nodes are like changes slowly) and reads everyone's back, so what another replica
   * learned since this one joined fills in what this one has not learned itself, and their estimates
   * (placement, and when the others' requests end while Redis is out) agree on every node and model
   * any of them has served.
   */
  async exchange(mine: LearnedFigures | undefined): Promise<LearnedFigures> {
    if (mine) await this.publish(mine, 86_400_000);
    return this.read();
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

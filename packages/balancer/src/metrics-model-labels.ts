import { normalizeModel } from '@ollama-ring/protocol';

/** The label of every model past the cap. */
export const OTHER_MODEL = 'other';

/**
 * The `model` label values: a model's normalised name (`llama3.2` → `llama3.2:latest`), for at most
 * `max` distinct models, and `other` beyond them, so that clients sending ever new model names
 * cannot grow the series without bound. Each raw spelling's label is remembered (a bounded cache).
 *
 * @example
 * const labels = new ModelLabels(256);
 * labels.of('llama3.2'); // 'llama3.2:latest'
 */
export class ModelLabels {
  private readonly bySpelling = new Map<string, string>();
  private readonly distinct = new Set<string>();

  constructor(private readonly max: number) {}

  of(raw: string): string {
    const cached = this.bySpelling.get(raw);
    if (cached !== undefined) return cached;
    const norm = normalizeModel(raw);
    let label = OTHER_MODEL;
    if (this.distinct.has(norm) || this.distinct.size < this.max) {
      this.distinct.add(norm);
      label = norm;
    }
    // Spellings of one model are few; the cap keeps hostile variations from growing the cache.
    if (this.bySpelling.size < this.max * 4) this.bySpelling.set(raw, label);
    return label;
  }
}

/** Past this many distinct strings, new ones share one id: the metrics cap their label values anyway. */
const MAX_LABELS = 4_096;

/**
 * Interns the strings OUTCOME records name (nodes, models, error codes) as small ids, so that the
 * records stay fixed-size. Producer and consumer share it on one thread.
 */
export class LabelTable {
  private readonly ids = new Map<string, number>();
  private readonly names: string[] = [];
  private readonly overflowId: number;

  constructor(overflowLabel = 'other') {
    this.overflowId = this.intern(overflowLabel);
  }

  /** The id of `name` (-1 for an empty one). */
  id(name: string | undefined): number {
    if (!name) return -1;
    return this.ids.get(name) ?? (this.names.length < MAX_LABELS ? this.intern(name) : this.overflowId);
  }

  /** The string an id stands for ('' for -1). */
  name(id: number): string {
    return id < 0 ? '' : (this.names[id] ?? '');
  }

  private intern(name: string): number {
    const id = this.names.length;
    this.names.push(name);
    this.ids.set(name, id);
    return id;
  }
}

/** The models installed on one node: lookups by any spelling of a name, and pull/copy/delete. */
import { createHash } from 'node:crypto';
import type { ResolvedModel } from './config';
import { displayName, fullName, modelKey, nameKey, parseModelName } from '@ollama-ring/protocol';

export class ModelTable {
  private readonly byKey = new Map<string, ResolvedModel>();

  constructor(models: readonly ResolvedModel[]) {
    for (const m of models) this.byKey.set(m.key, m);
  }

  /** The installed model a request names, case-insensitively; undefined when not installed. */
  find(name: string): ResolvedModel | undefined {
    const key = nameKey(name);
    return key ? this.byKey.get(key) : undefined;
  }

  /** Installed models, newest `modified_at` first (the order of `/api/tags`). */
  list(): ResolvedModel[] {
    return [...this.byKey.values()].sort((a, b) => b.modifiedAtMs - a.modifiedAtMs);
  }

  add(m: ResolvedModel): void {
    this.byKey.set(m.key, { ...m, modifiedAtMs: Date.now() });
  }

  remove(name: string): boolean {
    const key = nameKey(name);
    return key ? this.byKey.delete(key) : false;
  }

  /** Installs `source` again under `destination`; the copy has its own name and a fresh date. */
  copy(source: ResolvedModel, destination: string): ResolvedModel {
    const n = parseModelName(destination);
    if (!n) throw new Error(`destination "${destination}" is invalid`);
    const copy: ResolvedModel = {
      ...source,
      key: modelKey(n),
      seedName: fullName(n).toLowerCase(),
      name: displayName(n),
      fullName: fullName(n),
      namespace: n.namespace,
      // Ollama keeps the digest (same layers); we do too, so a balancer can see they are one model.
      digest: source.digest,
      modifiedAtMs: Date.now(),
    };
    this.byKey.set(copy.key, copy);
    return copy;
  }
}

/** The digest of a layer of a model, for pull progress lines. */
export function layerDigest(model: ResolvedModel, layer: string): string {
  return `sha256:${createHash('sha256').update(`${model.fullName}/${layer}`).digest('hex')}`;
}

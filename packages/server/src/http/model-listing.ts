import type { NodeSnapshot } from '@ollama-ring/balancer';
import { normalizeModel } from '@ollama-ring/protocol';
import type { GatewayContext } from '../gateway-context';
import { canServe } from './route-util';
import { type NodeCallError, upstreamFor } from './upstream';

/** A model entry as `/api/tags` or `/api/ps` gives it; other fields pass through untouched. */
export interface ModelEntry {
  name?: string;
  model?: string;
  modified_at?: string;
  expires_at?: string;
  [field: string]: unknown;
}

/** A merged entry: the first node's entry, plus which nodes have the model. */
export type MergedEntry = ModelEntry & { ollama_ring: { nodes: string[] } };

/** What a pool-wide listing gathered: the merged models and the nodes that did not answer. */
export interface Listing {
  models: MergedEntry[];
  /** Nodes asked. */
  asked: number;
  failures: NodeCallError[];
}

/**
 * Asks every node that can serve for `/api/tags` or `/api/ps`, in parallel, and merges the answers:
 * one entry per model (names compared as Ollama does), with `ollama_ring.nodes` listing the nodes
 * that have it. Clients ignore the extra field. Tags are sorted newest first by `modified_at`, ps
 * latest first by `expires_at` (Ollama's own orders); for ps the entry kept is the one that expires
 * last. A node that fails is left out and reported in `failures`.
 *
 * @example const { models } = await listModels(gw, '/api/tags');
 */
export async function listModels(gw: GatewayContext, path: '/api/tags' | '/api/ps', signal?: AbortSignal): Promise<Listing> {
  const nodes = gw.factory.getNodeRegistry().getAllNodes().filter(canServe);
  const up = upstreamFor(gw);
  const answers = await Promise.allSettled(nodes.map((n) => up.json<{ models?: ModelEntry[] | null }>(n, path, signal)));
  const byName = new Map<string, MergedEntry>();
  const failures: NodeCallError[] = [];
  const timeKey = path === '/api/ps' ? 'expires_at' : 'modified_at';
  answers.forEach((a, i) => {
    const node: NodeSnapshot = nodes[i];
    if (a.status === 'rejected') {
      failures.push(a.reason as NodeCallError);
      gw.logger.debug({ err: a.reason, node: node.id, path }, 'listing: node left out');
      return;
    }
    for (const m of a.value.models ?? []) {
      const name = m.name ?? m.model;
      if (typeof name !== 'string') continue;
      const key = normalizeModel(name);
      const seen = byName.get(key);
      if (!seen) {
        byName.set(key, { ...m, ollama_ring: { nodes: [node.id] } });
        continue;
      }
      seen.ollama_ring.nodes.push(node.id);
      if (path === '/api/ps' && time(m[timeKey]) > time(seen[timeKey])) {
        byName.set(key, { ...m, ollama_ring: seen.ollama_ring });
      }
    }
  });
  const models = [...byName.values()].sort((a, b) => time(b[timeKey]) - time(a[timeKey]));
  return { models, asked: nodes.length, failures };
}

function time(v: unknown): number {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : 0;
}

/**
 * Compares Ollama versions (`0.12.6`, `0.33.0-rc2`): numeric parts first; a pre-release sorts
 * before its release. Negative when `a` is older.
 *
 * @example compareVersions('0.9.0', '0.10.1') < 0; // true
 */
export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => {
    const [core, pre] = v.trim().replace(/^v/, '').split('-', 2);
    return { nums: core.split('.').map((x) => Number.parseInt(x, 10) || 0), pre };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return d;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return 1;
  if (y.pre === undefined) return -1;
  return x.pre < y.pre ? -1 : 1;
}

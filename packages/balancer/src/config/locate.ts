/**
 * Turns a path of the alias-mapped input back into what the user wrote and where: the key as
 * spelled in the file (`instances[1].max_concurrent`) and its line, or the env variable that set it.
 */
import type { ConfigIssue } from '../errors';
import { formatPath, toPointer, type Segment } from './paths';
import type { YamlSource } from './yaml-source';

export class Locator {
  /** Pointer → env variable, for values set from the environment. */
  private readonly envOrigins = new Map<string, string>();

  constructor(
    /** Pointer in the mapped input → raw path, from `normalizeInput`. */
    private readonly origins: Map<string, Segment[]>,
    private readonly file?: string,
    private readonly src?: YamlSource,
  ) {}

  /** Records that the value at `segs` (and everything under it) now comes from `envVar`. */
  setEnv(segs: readonly Segment[], envVar: string): void {
    const p = toPointer(segs);
    for (const map of [this.origins, this.envOrigins]) {
      for (const k of [...map.keys()]) if (k === p || k.startsWith(p + '/')) map.delete(k);
    }
    this.envOrigins.set(p, envVar);
  }

  /** An issue at a path of the mapped input. */
  issue(segs: readonly Segment[], message: string): ConfigIssue {
    for (let n = segs.length; n >= 0; n--) {
      const p = toPointer(segs.slice(0, n));
      const envVar = this.envOrigins.get(p);
      if (envVar !== undefined) return { path: formatPath(segs), message, file: `env:${envVar}` };
      const raw = this.origins.get(p);
      if (raw !== undefined) return this.rawIssue([...raw, ...segs.slice(n)], message);
    }
    return this.rawIssue(segs, message);
  }

  /** An issue at a path of the input as written. */
  rawIssue(segs: readonly Segment[], message: string): ConfigIssue {
    const issue: ConfigIssue = { path: formatPath(segs), message };
    if (this.file !== undefined) issue.file = this.file;
    const line = this.src?.lineOf(segs);
    if (line !== undefined) issue.line = line;
    return issue;
  }
}

/**
 * One line for a warning, in the same shape as ConfigError's issue lines.
 *
 * @example formatIssue({ path: 'server.foo', message: 'unknown key (ignored)', file: 'c.yaml', line: 3 }); // 'c.yaml:3: server.foo: unknown key (ignored)'
 */
export function formatIssue(i: ConfigIssue): string {
  const where = i.file ? `${i.file}${i.line ? `:${i.line}` : ''}: ` : i.line ? `line ${i.line}: ` : '';
  return `${where}${i.path || '(root)'}: ${i.message}`;
}

/** Issues in file order, then by path (those without a line go last, in the order found). */
export function byLine(issues: ConfigIssue[]): ConfigIssue[] {
  return issues
    .map((i, n) => ({ i, n }))
    .sort((a, b) => {
      const la = a.i.line ?? Infinity;
      const lb = b.i.line ?? Infinity;
      if (la !== lb) return la - lb;
      if (la === Infinity) return a.n - b.n;
      return a.i.path < b.i.path ? -1 : a.i.path > b.i.path ? 1 : a.n - b.n;
    })
    .map((x) => x.i);
}

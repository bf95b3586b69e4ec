/**
 * YAML parsing with a line index: which line each key path starts on, so validation errors can
 * name `config.yaml:12`. js-yaml keeps no positions in its output, so the index is built from its
 * `listener` events (one open/close pair per node, children nested inside), not by re-scanning text:
 * that stays right for flow style (`{ id: a, url: … }`), anchors, merges and multi-line values.
 */
import * as yaml from 'js-yaml';
import { ConfigError } from '../errors';
import { isPlainObject, toPointer, type Segment } from './paths';

/** A parsed document and the line (1-based) of each key path in it. */
export interface YamlSource {
  value: unknown;
  file?: string;
  /** Line of the path, or of its nearest ancestor that has one; undefined only for an empty document. */
  lineOf(segs: readonly Segment[]): number | undefined;
}

interface Frame {
  pos: number;
  line: number;
  kind: string | null;
  result: unknown;
  children: Frame[];
}

/**
 * Parses YAML with the safe core schema and indexes key lines. Throws `ConfigError` with the line
 * of a syntax error (including js-yaml's duplicate-key error).
 *
 * @example parseYamlSource('a:\n  b: 1\n').lineOf(['a', 'b']); // 2
 */
export function parseYamlSource(text: string, file?: string): YamlSource {
  const stack: Frame[] = [];
  let root: Frame | undefined;
  let value: unknown;
  try {
    value = yaml.load(text, {
      schema: yaml.CORE_SCHEMA,
      filename: file,
      listener(event, state) {
        if (event === 'open') {
          stack.push({ pos: state.position, line: state.line + 1, kind: null, result: undefined, children: [] });
          return;
        }
        const f = stack.pop();
        if (!f) return;
        f.kind = state.kind;
        f.result = state.result;
        const parent = stack[stack.length - 1];
        if (!parent) {
          root = f;
          return;
        }
        // js-yaml backtracks in a few places (a tag or anchor before a block mapping): a node that
        // starts at or before an earlier sibling's start means that sibling was an abandoned attempt.
        const siblings = parent.children;
        while (siblings.length > 0 && siblings[siblings.length - 1].pos >= f.pos) siblings.pop();
        siblings.push(f);
      },
    });
  } catch (err) {
    throw yamlErrorToConfigError(err, file);
  }
  const lines = new Map<string, number>();
  if (root) indexFrame(root, [], lines);
  return {
    value,
    file,
    lineOf(segs) {
      for (let n = segs.length; n >= 0; n--) {
        const line = lines.get(toPointer(segs.slice(0, n)));
        if (line !== undefined) return line;
      }
      return undefined;
    },
  };
}

/** Turns a js-yaml exception into a ConfigError carrying its line. */
function yamlErrorToConfigError(err: unknown, file?: string): ConfigError {
  if (err instanceof yaml.YAMLException) {
    const line = err.mark ? err.mark.line + 1 : undefined;
    const col = err.mark ? ` (column ${err.mark.column + 1})` : '';
    return new ConfigError(`invalid YAML${file ? ` in ${file}` : ''}`, [{ path: '', message: `${err.reason}${col}`, file, line }]);
  }
  return new ConfigError(`cannot parse${file ? ` ${file}` : ''}: ${String(err)}`);
}

/**
 * A block-sequence item written as `- { … }` is reported as a wrapper node around the flow mapping
 * (js-yaml first tries it as a block mapping key); descend to the node that owns the children.
 */
function unwrap(f: Frame): Frame {
  let cur = f;
  while (cur.children.length === 1 && cur.children[0].result === cur.result && cur.children[0].kind === cur.kind) {
    cur = cur.children[0];
  }
  return cur;
}

function indexFrame(frame: Frame, path: Segment[], lines: Map<string, number>): void {
  const f = unwrap(frame);
  const ptr = toPointer(path);
  if (!lines.has(ptr)) lines.set(ptr, f.line);
  if (f.kind === 'sequence' && Array.isArray(f.result)) {
    f.children.forEach((child, i) => indexFrame(child, [...path, i], lines));
  } else if (f.kind === 'mapping' && isPlainObject(f.result)) {
    // Children alternate key, value. A merge key (`<<`) or an explicit `? key` without value breaks
    // the pattern only for the entries after it; those fall back to the mapping's own line.
    const own = f.result;
    for (let i = 0; i + 1 < f.children.length; i += 2) {
      const k = f.children[i];
      if (k.kind !== 'scalar' || k.result === null || typeof k.result === 'object') break;
      const key = String(k.result);
      if (key === '<<') continue;
      if (!Object.prototype.hasOwnProperty.call(own, key)) break;
      const childPath = [...path, key];
      lines.set(toPointer(childPath), k.line);
      // The value's own line is kept only where no key line exists (indexFrame never overwrites).
      indexFrame(f.children[i + 1], childPath, lines);
    }
  }
}

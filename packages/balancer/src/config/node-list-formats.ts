/**
 * The seeds' other ways of listing nodes, each parsed to complete `NodeSpec`s:
 * - a `hosts.txt` of `host:port` lines (seed 004);
 * - `OLLAMA_RING_NODES="id=url*slots,…"`;
 * - a list of `{url, max_concurrent}` objects, JSON or YAML (seed 000), optionally still wearing
 *   its Python assignment (`OLLAMA_SERVERS = [ … ]`).
 * Bad entries throw `ConfigError`, one issue per bad line or entry, all reported at once.
 */
import type { ConfigIssue } from '../errors';
import { ConfigError } from '../errors';
import type { NodeSpec } from '../nodes/node';
import { normalizeInput } from './aliases';
import { byLine, Locator } from './locate';
import { parseNodeEntry, type NodeEntry } from './node-entry';
import { isUnder } from './paths';
import { completeNodes, findDuplicateIds } from './resolve';
import { checkSchema } from './schema';
import { parseYamlSource, type YamlSource } from './yaml-source';

/**
 * Parses a hosts file: one `[id=]host[:port][*slots]` or `http(s)://…[*slots]` per line; `#`
 * starts a comment; blank lines are skipped.
 *
 * @example parseHostsFile('# pool\n10.0.0.2:11434\ngpu.local*4\n'); // two nodes, the second with 4 slots
 */
export function parseHostsFile(text: string, file?: string): NodeSpec[] {
  const entries: NodeEntry[] = [];
  const lineOfEntry: number[] = [];
  const issues: ConfigIssue[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const hash = raw.indexOf('#');
    const line = (hash === -1 ? raw : raw.slice(0, hash)).trim();
    if (line === '') return;
    try {
      entries.push(parseNodeEntry(line));
      lineOfEntry.push(i + 1);
    } catch (err) {
      issues.push({ path: `nodes[${entries.length + issues.length}]`, message: (err as Error).message, file, line: i + 1 });
    }
  });
  return finish(entries, issues, `invalid hosts file${file ? ` ${file}` : ''}`, (k) => ({ file, line: lineOfEntry[k] }));
}

/**
 * Parses the `OLLAMA_RING_NODES` form: entries `[id=]url[*slots]` separated by commas or whitespace.
 *
 * @example parseNodesEnv('a=http://10.0.0.5:11434*2,10.0.0.6'); // ids 'a' and '10.0.0.6:11434'
 */
export function parseNodesEnv(value: string, varName = 'OLLAMA_RING_NODES'): NodeSpec[] {
  const entries: NodeEntry[] = [];
  const issues: ConfigIssue[] = [];
  const file = `env:${varName}`;
  value
    .split(/[,\s]+/)
    .filter((s) => s !== '')
    .forEach((part, k) => {
      try {
        entries.push(parseNodeEntry(part));
      } catch (err) {
        issues.push({ path: `nodes[${k}]`, message: (err as Error).message, file });
      }
    });
  return finish(entries, issues, `invalid ${varName}`, () => ({ file }));
}

/**
 * Parses a list of node objects (`url` required; `max_concurrent` accepted for
 * `maxConcurrentRequests`), given as JSON/YAML text or as an already-parsed array.
 *
 * @example parseNodeList('[{"url": "http://localhost:11434", "max_concurrent": 1}]');
 */
export function parseNodeList(input: string | readonly unknown[], file?: string): NodeSpec[] {
  let value: unknown = input;
  let src: YamlSource | undefined;
  if (typeof input === 'string') {
    src = parseYamlSource(stripAssignment(input), file);
    value = src.value;
  }
  if (!Array.isArray(value)) {
    throw new ConfigError(`invalid node list${file ? ` ${file}` : ''}`, [{ path: '', message: 'expected a list of nodes', file, line: src?.lineOf([]) }]);
  }
  const norm = normalizeInput(value);
  const at = new Locator(norm.origins, file, src);
  const issues: ConfigIssue[] = norm.problems.filter((p) => !p.warning).map((p) => at.rawIssue(p.segs, p.message));
  for (const p of checkSchema(norm.input)) if (!p.unknownKey && !isUnder(p.segs, norm.broken)) issues.push(at.issue(p.segs, p.message));
  for (const p of findDuplicateIds(norm.input.nodes)) issues.push(at.issue(p.segs, p.message));
  if (issues.length) throw new ConfigError(`invalid node list${file ? ` ${file}` : ''}`, byLine(issues));
  // completeNodes only warns (a URL listed twice); this form returns nodes, not warnings.
  return completeNodes(norm.input.nodes as Record<string, unknown>[]).nodes;
}

function finish(entries: NodeEntry[], issues: ConfigIssue[], what: string, where: (entry: number) => Pick<ConfigIssue, 'file' | 'line'>): NodeSpec[] {
  for (const p of findDuplicateIds(entries)) {
    const k = Number(p.segs[1]);
    issues.push({ path: `nodes[${k}]`, message: p.message, ...where(k) });
  }
  if (issues.length) throw new ConfigError(what, issues);
  return completeNodes(entries).nodes;
}

/**
 * Seed 000 keeps its node list in Python: `OLLAMA_SERVERS = [ … ]`. Dropping the `NAME =` before a
 * leading list makes that paste valid YAML; the line count is unchanged, so lines stay right.
 */
export function stripAssignment(text: string): string {
  return text.replace(/^((?:[ \t]*(?:#[^\n]*)?\r?\n)*[ \t]*)[A-Za-z_][A-Za-z0-9_]*[ \t]*=[ \t]*(?=\[)/, '$1');
}

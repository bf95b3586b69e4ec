/**
 * A reader of the Prometheus text exposition format (version 0.0.4, which node_exporter, NVIDIA's
 * DCGM exporter and nvidia_gpu_exporter serve; OpenMetrics text reads too). Only the families asked
 * for are parsed: a line of any other family is skipped after its name, so an exporter's extras (or
 * an OpenMetrics feature this reader does not know) never fail a scrape, while a malformed line of a
 * family that is used does.
 */
import { OllamaRingError } from '@ollama-ring/protocol';

/**
 * One sample: a series of a family and its value (NaN and ±Infinity as the exporter wrote them).
 *
 * @example
 * const s: PromSample = { name: 'DCGM_FI_DEV_FB_FREE', labels: { gpu: '0' }, value: 1024 };
 */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * A line of a wanted family that is not a valid sample.
 *
 * @example
 * try { parsePrometheusText(text, wanted); } catch (e) { if (e instanceof ExpositionError) log(e.line); }
 */
export class ExpositionError extends OllamaRingError {
  static override brand = 'ERR_EXPOSITION';
  constructor(
    message: string,
    /** The 1-based line number. */
    readonly line: number,
  ) {
    super(ExpositionError.brand, `line ${line}: ${message}`);
  }
}

const NAME_START = /[A-Za-z_:]/;
const NAME_CHAR = /[A-Za-z0-9_:]/;
const LABEL_START = /[A-Za-z_]/;
const LABEL_CHAR = /[A-Za-z0-9_]/;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * The samples of the `wanted` families in `text`, in order. Comments (`# HELP`, `# TYPE`, any `#`
 * line) and blank lines are skipped; label values are unescaped (`\\`, `\"`, `\n`); an optional
 * timestamp, and an OpenMetrics exemplar after `#`, are ignored. Throws {@link ExpositionError} for
 * a malformed line of a wanted family.
 *
 * @example
 * parsePrometheusText('node_load1 0.5\n', new Set(['node_load1'])); // [{ name: 'node_load1', labels: {}, value: 0.5 }]
 */
export function parsePrometheusText(text: string, wanted: ReadonlySet<string>): PromSample[] {
  const out: PromSample[] = [];
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    lineNo++;
    const line = text.slice(start, end);
    start = end + 1;
    const sample = parseLine(line, wanted, lineNo);
    if (sample) out.push(sample);
  }
  return out;
}

function parseLine(line: string, wanted: ReadonlySet<string>, lineNo: number): PromSample | undefined {
  let i = skipSpace(line, 0);
  if (i >= line.length || line[i] === '#' || line[i] === '\r') return undefined;
  const nameStart = i;
  if (!NAME_START.test(line[i])) throw new ExpositionError(`expected a metric name, got ${JSON.stringify(line.slice(i, i + 20))}`, lineNo);
  while (i < line.length && NAME_CHAR.test(line[i])) i++;
  const name = line.slice(nameStart, i);
  if (!wanted.has(name)) return undefined;
  const labels: Record<string, string> = {};
  i = skipSpace(line, i);
  if (line[i] === '{') i = parseLabels(line, i + 1, labels, lineNo);
  const rest = line.slice(i).trim();
  // The value, then an optional timestamp, then (OpenMetrics) an optional `# exemplar`.
  const token = rest.split(/\s+/, 1)[0] ?? '';
  const value = parseValue(token);
  if (value === undefined) throw new ExpositionError(`${name}: expected a value, got ${JSON.stringify(token)}`, lineNo);
  return { name, labels, value };
}

/** Reads `name="value",…}` from just after the `{`; returns the index after the `}`. */
function parseLabels(line: string, from: number, labels: Record<string, string>, lineNo: number): number {
  let i = skipSpace(line, from);
  while (line[i] !== '}') {
    if (i >= line.length || !LABEL_START.test(line[i])) throw new ExpositionError('expected a label name or "}"', lineNo);
    const nameStart = i;
    while (i < line.length && LABEL_CHAR.test(line[i])) i++;
    const name = line.slice(nameStart, i);
    i = skipSpace(line, i);
    if (line[i] !== '=') throw new ExpositionError(`label ${name}: expected "="`, lineNo);
    i = skipSpace(line, i + 1);
    if (line[i] !== '"') throw new ExpositionError(`label ${name}: expected a quoted value`, lineNo);
    i++;
    let value = '';
    for (;;) {
      if (i >= line.length) throw new ExpositionError(`label ${name}: unterminated value`, lineNo);
      const c = line[i++];
      if (c === '"') break;
      if (c !== '\\') {
        value += c;
        continue;
      }
      const e = line[i++];
      // The format defines \\, \" and \n; anything else is kept as written.
      value += e === 'n' ? '\n' : e === '\\' || e === '"' ? e : `\\${e ?? ''}`;
    }
    labels[name] = value;
    i = skipSpace(line, i);
    if (line[i] === ',') i = skipSpace(line, i + 1);
    else if (line[i] !== '}') throw new ExpositionError(`label ${name}: expected "," or "}"`, lineNo);
  }
  return i + 1;
}

/** A sample value as Go's ParseFloat reads it (decimal, NaN, ±Inf); undefined when it is none. */
function parseValue(token: string): number | undefined {
  if (DECIMAL.test(token)) return Number(token);
  const t = token.toLowerCase();
  if (t === 'nan') return NaN;
  if (/^\+?inf(inity)?$/.test(t)) return Infinity;
  if (/^-inf(inity)?$/.test(t)) return -Infinity;
  return undefined;
}

function skipSpace(line: string, i: number): number {
  while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
  return i;
}

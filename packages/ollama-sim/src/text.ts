/**
 * Deterministic content: the words a simulated model "generates", prompt token counts, and embedding
 * vectors. The same model, prompt and seed always give the same output, so tests can assert on it.
 */

/** FNV-1a over UTF-16 code units, folded with a seed: a cheap, stable 32-bit hash. */
function hash32(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small, fast PRNG with a 32-bit state; returns floats in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Our own small vocabulary; the text only has to look like prose and be cheap to produce.
const WORDS = (
  'the a of to and in is it that for on with as was at by this be from are or an have not they which ' +
  'one you had there but can all were when we what your more would will their if about so out them ' +
  'some time has two like into him see could no then other than now its only over also new after use ' +
  'way many first well water long little very just where most know get through back much before ' +
  'good sky blue light river model server token stream answer question system simple quick bright ' +
  'cloud ring balance node queue slot load memory signal number pattern garden window morning ' +
  'evening careful gentle steady clear warm cold open small large early late green silver paper'
).split(' ');

/** How many tokens a text counts as: about four characters a token, as a rule of thumb. */
export function countTokens(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / 4);
}

/** One unit of simulated output. `thinking` pieces go to the `thinking` field, not the content. */
export interface Piece {
  text: string;
  thinking: boolean;
}

/** A tool call as the native API writes it inside `message.tool_calls`. */
export interface NativeToolCall {
  id: string;
  function: { index: number; name: string; arguments: Record<string, unknown> };
}

/** Everything a generation will produce, decided up front from the request and the seed. */
export interface OutputPlan {
  pieces: Piece[];
  /** Tool calls emitted after the pieces, in one chunk; they cost `toolTokens` token-times. */
  toolCalls: NativeToolCall[];
  toolTokens: number;
  doneReason: 'stop' | 'length';
}

export interface PlanInput {
  seedText: string;
  seed: number;
  /** Natural length bounds (inclusive) before the model "stops" on its own. */
  minTokens: number;
  maxTokens: number;
  /** Hard cap: `num_predict` (> 0), or the room left in the context. Infinity when none. */
  limit: number;
  think: boolean;
  /** `format`: "json" or a JSON-schema object; undefined for free text. */
  format?: unknown;
  /** Tools offered, when the model should call one instead of answering. */
  tools?: readonly ToolSpec[];
  stop?: readonly string[];
}

export interface ToolSpec {
  name: string;
  parameters?: { properties?: Record<string, { type?: string }>; required?: string[] };
}

/** Decides the output of one generation. */
export function planOutput(input: PlanInput): OutputPlan {
  const rnd = prng(hash32(input.seedText, input.seed));
  const span = Math.max(0, input.maxTokens - input.minTokens);
  const natural = input.minTokens + Math.floor(rnd() * (span + 1));
  const pieces: Piece[] = [];
  let budget = input.limit;

  if (input.think && budget > 0) {
    const n = Math.min(budget, Math.max(3, Math.round(natural / 3)));
    for (let i = 0; i < n; i++) pieces.push({ text: word(rnd, i === 0), thinking: true });
    budget -= n;
  }

  if (input.tools && input.tools.length > 0) {
    const tool = input.tools[Math.floor(rnd() * input.tools.length)];
    const call: NativeToolCall = {
      id: randomId(rnd),
      function: { index: 0, name: tool.name, arguments: toolArguments(tool, rnd) },
    };
    const cost = countTokens(JSON.stringify(call.function));
    if (cost <= budget) return { pieces, toolCalls: [call], toolTokens: cost, doneReason: 'stop' };
    // Not enough room left to write the call: the model runs out of tokens first.
    return { pieces, toolCalls: [], toolTokens: budget, doneReason: 'length' };
  }

  const content = input.format !== undefined ? jsonPieces(input.format, natural, rnd) : prosePieces(natural, rnd);
  let reason: 'stop' | 'length' = 'stop';
  let text = '';
  for (const p of content) {
    if (budget <= 0) {
      reason = 'length';
      break;
    }
    const stopAt = input.stop ? firstStop(text + p, input.stop) : -1;
    if (stopAt >= 0) {
      const cut = stopAt - text.length;
      if (cut > 0) pieces.push({ text: p.slice(0, cut), thinking: false });
      return { pieces, toolCalls: [], toolTokens: 0, doneReason: 'stop' };
    }
    text += p;
    pieces.push({ text: p, thinking: false });
    budget--;
  }
  return { pieces, toolCalls: [], toolTokens: 0, doneReason: reason };
}

function firstStop(text: string, stops: readonly string[]): number {
  let best = -1;
  for (const s of stops) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

function word(rnd: () => number, first: boolean): string {
  const w = WORDS[Math.floor(rnd() * WORDS.length)];
  return first ? w.charAt(0).toUpperCase() + w.slice(1) : ` ${w}`;
}

function prosePieces(n: number, rnd: () => number): string[] {
  const out: string[] = [];
  let sentenceStart = true;
  while (out.length < n) {
    // End a sentence every eight or so words; the full stop is its own token.
    if (!sentenceStart && rnd() < 0.12 && out.length < n - 1) {
      out.push('.');
      sentenceStart = true;
      continue;
    }
    const w = word(rnd, sentenceStart);
    out.push(sentenceStart && out.length > 0 ? ` ${w}` : w);
    sentenceStart = false;
  }
  return out;
}

function jsonPieces(format: unknown, n: number, rnd: () => number): string[] {
  const schema = typeof format === 'object' && format !== null ? (format as ToolSpec['parameters']) : undefined;
  const props = schema?.properties ? Object.entries(schema.properties) : [['answer', { type: 'string' }] as const];
  const obj: Record<string, unknown> = {};
  const wordsEach = Math.max(1, Math.floor(n / Math.max(1, props.length)));
  for (const [key, spec] of props) obj[key] = valueOf(spec?.type, rnd, wordsEach);
  const text = JSON.stringify(obj);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += 4) out.push(text.slice(i, i + 4));
  return out;
}

function valueOf(type: string | undefined, rnd: () => number, words: number): unknown {
  switch (type) {
    case 'integer':
      return Math.floor(rnd() * 100);
    case 'number':
      return Math.round(rnd() * 10000) / 100;
    case 'boolean':
      return rnd() < 0.5;
    case 'array':
      return [];
    case 'object':
      return {};
    default: {
      let s = '';
      for (let i = 0; i < words; i++) s += word(rnd, i === 0);
      return s;
    }
  }
}

function toolArguments(tool: ToolSpec, rnd: () => number): Record<string, unknown> {
  const props = tool.parameters?.properties ?? {};
  const names = tool.parameters?.required?.length ? tool.parameters.required : Object.keys(props);
  const args: Record<string, unknown> = {};
  for (const name of names) args[name] = valueOf(props[name]?.type, rnd, 2);
  return args;
}

const ID_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Eight characters from [a-z0-9], like the ids Ollama gives tool calls. */
function randomId(rnd: () => number): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += ID_CHARS[Math.floor(rnd() * ID_CHARS.length)];
  return s;
}

/** Token ids for `context`: deterministic, in a plausible vocabulary range. */
export function contextTokens(seedText: string, count: number): number[] {
  const rnd = prng(hash32(seedText, 7));
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = 1 + Math.floor(rnd() * 128_000);
  return out;
}

/**
 * A deterministic embedding of `text`: `dims` values in [-1, 1). L2-normalised when `normalise` is
 * set (as `/api/embed` returns them); raw for the legacy `/api/embeddings`.
 */
export function embedding(model: string, text: string, dims: number, normalise: boolean): number[] {
  const rnd = prng(hash32(text, hash32(model)));
  const v = new Array<number>(dims);
  let sum = 0;
  for (let i = 0; i < dims; i++) {
    const x = rnd() * 2 - 1;
    v[i] = x;
    sum += x * x;
  }
  if (normalise) {
    const norm = Math.sqrt(sum) || 1;
    for (let i = 0; i < dims; i++) v[i] = v[i] / norm;
  }
  return v;
}

/** Scales a vector to unit length (used after `dimensions` truncation). */
export function l2normalise(v: number[]): number[] {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum) || 1;
  return v.map((x) => x / norm);
}

// JSON bodies for every route that reads one, in two classes: bodies the gateway must refuse by
// itself (malformed, not an object, a checked field of the wrong type, no or an unknown model,
// oversized, a prompt past the limit), each with the status it must get; and bodies that are valid
// but odd (unknown fields, nasty strings and numbers, deep nesting), which may go to a node but must
// never come back as a 5xx.
import fc from 'fast-check';
import { deepText, depth, hugeNumberToken, jsonText, nastyString } from './arbitraries';
import { MAX_BODY_BYTES, MAX_PROMPT_LENGTH, type Flavor } from './fuzz-support';

type JsonType = 'string' | 'number' | 'boolean' | 'object' | 'array';

/** A route that reads a JSON body, with a valid body and the fields whose types the gateway checks. */
export interface JsonRoute {
  method: string;
  path: string;
  flavor: Flavor;
  base: Record<string, unknown>;
  /** Checked fields and the types each accepts (null is always accepted, as absence). */
  checked: Record<string, readonly JsonType[]>;
  kind: 'inference' | 'model' | 'admin';
  /** Valid-but-odd bodies may be sent: the route changes nothing a later case depends on. */
  odd: boolean;
}

const gen = { model: 'llama3.2', prompt: 'x', stream: false, options: { num_predict: 2 } };
const chat = { model: 'llama3.2', messages: [{ role: 'user', content: 'x' }], stream: false, options: { num_predict: 2 } };
const oaChat = { model: 'llama3.2', messages: [{ role: 'user', content: 'x' }], max_tokens: 2 };
const NATIVE: Record<string, readonly JsonType[]> = {
  model: ['string'],
  prompt: ['string'],
  system: ['string'],
  stream: ['boolean'],
  raw: ['boolean'],
  options: ['object'],
  messages: ['array'],
};
const OPENAI: Record<string, readonly JsonType[]> = { model: ['string'], stream: ['boolean'], messages: ['array'], prompt: ['string', 'array'] };
const MODEL: Record<string, readonly JsonType[]> = { model: ['string'] };

export const JSON_ROUTES: readonly JsonRoute[] = [
  { method: 'POST', path: '/api/generate', flavor: 'ollama', base: gen, checked: NATIVE, kind: 'inference', odd: true },
  { method: 'POST', path: '/api/chat', flavor: 'ollama', base: chat, checked: NATIVE, kind: 'inference', odd: true },
  { method: 'POST', path: '/api/embed', flavor: 'ollama', base: { model: 'nomic-embed-text', input: 'x' }, checked: NATIVE, kind: 'inference', odd: true },
  { method: 'POST', path: '/api/embeddings', flavor: 'ollama', base: { model: 'nomic-embed-text', prompt: 'x' }, checked: NATIVE, kind: 'inference', odd: true },
  { method: 'POST', path: '/v1/chat/completions', flavor: 'openai', base: oaChat, checked: OPENAI, kind: 'inference', odd: true },
  { method: 'POST', path: '/v1/completions', flavor: 'openai', base: { model: 'llama3.2', prompt: 'x', max_tokens: 2 }, checked: OPENAI, kind: 'inference', odd: true },
  { method: 'POST', path: '/v1/embeddings', flavor: 'openai', base: { model: 'nomic-embed-text', input: 'x' }, checked: OPENAI, kind: 'inference', odd: true },
  { method: 'POST', path: '/api/show', flavor: 'ollama', base: { model: 'llama3.2' }, checked: MODEL, kind: 'model', odd: true },
  // Odd pull bodies keep their model, one the node already has: a pull of a model nobody has is a
  // 500 from the node, as from Ollama, and passes through.
  { method: 'POST', path: '/api/pull', flavor: 'ollama', base: { model: 'llama3.2', stream: false }, checked: MODEL, kind: 'model', odd: true },
  // Admin routes, with the admin token: only bodies they must refuse (a valid one would change the pool).
  { method: 'POST', path: '/api/create', flavor: 'ollama', base: { model: 'x', from: 'llama3.2' }, checked: { ...MODEL, from: ['string'] }, kind: 'admin', odd: false },
  { method: 'POST', path: '/api/push', flavor: 'ollama', base: { model: 'llama3.2' }, checked: MODEL, kind: 'admin', odd: false },
  { method: 'DELETE', path: '/api/delete', flavor: 'ollama', base: { model: 'x' }, checked: MODEL, kind: 'admin', odd: false },
  {
    method: 'POST',
    path: '/api/copy',
    flavor: 'ollama',
    base: { source: 'llama3.2', destination: 'y' },
    checked: { source: ['string'], destination: ['string'] },
    kind: 'admin',
    odd: false,
  },
  { method: 'POST', path: '/admin/strategy', flavor: 'ollama', base: { strategy: 'round-robin' }, checked: { strategy: ['string'] }, kind: 'admin', odd: false },
  { method: 'POST', path: '/admin/nodes', flavor: 'ollama', base: { id: 'b', url: 'http://127.0.0.1:9' }, checked: { id: ['string'], url: ['string'] }, kind: 'admin', odd: false },
];

/** A JSON value of `type`, as text: nasty strings, huge numbers, deep arrays and objects included. */
function valueOf(type: JsonType, cap: number): fc.Arbitrary<string> {
  switch (type) {
    case 'string':
      return nastyString.map((s) => JSON.stringify(s));
    case 'number':
      return fc.oneof(
        hugeNumberToken,
        fc.integer().map(String),
        fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
      );
    case 'boolean':
      return fc.constantFrom('true', 'false');
    case 'array':
      return fc.oneof(
        jsonText(3).map((v) => `[${v}]`),
        depth(cap).map((d) => deepText(d, 'array')),
      );
    case 'object':
      return fc.oneof(
        jsonText(3).map((v) => `{"k":${v}}`),
        depth(cap).map((d) => deepText(d, 'object')),
      );
  }
}

/** `base` as JSON text with `overrides` (raw JSON texts) in place of, or after, its own fields. */
export function withFields(base: Record<string, unknown>, overrides: readonly (readonly [string, string])[]): string {
  const keys = new Set(overrides.map(([k]) => k));
  const own = Object.entries(base)
    .filter(([k]) => !keys.has(k))
    .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  return `{${[...own, ...overrides.map(([k, v]) => `${JSON.stringify(k)}:${v}`)].join(',')}}`;
}

/** One body to send, and what must come of it. */
export interface JsonCase {
  route: JsonRoute;
  /** How the body was made, for a failure's message. */
  family: string;
  body: Buffer;
  /** The statuses the gateway may answer a body it must refuse; undefined for a valid-but-odd body. */
  refuse?: readonly number[];
}

function mk(route: JsonRoute, family: string, text: string, refuse?: readonly number[]): JsonCase {
  const body = Buffer.from(text, 'utf8');
  // fast-check prints a counterexample through this: the route, the family and the body's start,
  // not a byte array of thousands of entries.
  const shown = `${route.method} ${route.path} ${family}: ${JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}…(${text.length} chars)` : text)}`;
  return { route, family, body, refuse, [fc.toStringMethod]: () => shown } as JsonCase;
}

/**
 * Text that is not JSON: a valid body cut short, junk after it, or random text that does not parse.
 * A leading BOM is left out: the gateway's TextDecoder drops it (so `\ufeff{}` is `{}`), where Go's
 * decoder, and so Ollama, refuses it; the node then answers such a body 400 itself.
 */
const malformed = (route: JsonRoute): fc.Arbitrary<string> =>
  fc.oneof(
    fc.integer({ min: 1, max: 200 }).map((n) => {
      const t = JSON.stringify(route.base);
      return t.slice(0, n % t.length);
    }),
    fc.constantFrom('{', '}', '{"model"', "{'model':'x'}", '{"model":"x",}', '{model:"x"}', '\u0000', '{"a":1}x', '{"a":1}{"b":2}', 'NaN', '{"a":01}', '{"a":"\\x"}'),
    fc.string({ unit: 'binary', maxLength: 30 }).filter((s) => s.length > 0 && !parses(s)),
  );

function parses(s: string): boolean {
  try {
    JSON.parse(s);
    return true;
  } catch {
    return false;
  }
}

/** Bodies the gateway must refuse, per route, with the statuses allowed. */
export function refusedCase(route: JsonRoute, cap: number): fc.Arbitrary<JsonCase> {
  const families: fc.Arbitrary<JsonCase>[] = [
    malformed(route).map((t) => mk(route, 'malformed JSON', t, [400])),
    fc.constant(mk(route, 'empty body', '', [400])),
    fc
      .oneof(
        jsonText(4),
        depth(cap).map((d) => deepText(d, 'array')),
      )
      .filter((t) => !t.startsWith('{'))
      .map((t) => mk(route, 'not an object', t, [400])),
    fc.integer({ min: 1, max: 4 }).map((extra) => mk(route, 'oversized', withFields(route.base, [['pad', JSON.stringify('p'.repeat(MAX_BODY_BYTES + extra))]]), [413])),
  ];
  const typed = Object.entries(route.checked);
  families.push(
    fc.constantFrom(...typed).chain(([field, ok]) =>
      fc
        .constantFrom(...(['string', 'number', 'boolean', 'object', 'array'] as const).filter((t) => !ok.includes(t)))
        .chain((t) => valueOf(t, cap))
        .map((v) => mk(route, `wrong type for ${field}`, withFields(route.base, [[field, v]]), [400])),
    ),
  );
  if (route.kind === 'inference') {
    const missing = route.path === '/api/generate' || route.path === '/api/embed' || route.path === '/api/embeddings' ? [400, 404] : [400];
    families.push(
      fc.constantFrom('""', '"  "', 'null').map((v) => mk(route, 'no model', withFields(route.base, [['model', v]]), missing)),
      // Names no node has: nasty ones included (prototype keys, NUL, lone surrogates).
      nastyString.filter((s) => s.trim() !== '').map((s) => mk(route, 'unknown model', withFields(route.base, [['model', JSON.stringify(`zz-${s}`)]]), [404])),
      fc
        .integer({ min: 1, max: 50 })
        .map((extra) =>
          mk(route, 'prompt too long', withFields(route.base, [[route.path.includes('embed') ? 'input' : 'prompt', JSON.stringify('p'.repeat(MAX_PROMPT_LENGTH + extra))]]), [400]),
        ),
    );
  }
  if (route.flavor === 'ollama' && route.kind === 'inference') {
    families.push(
      fc
        .tuple(fc.constantFrom('num_ctx', 'num_batch', 'num_gpu', 'use_mmap'), fc.constantFrom('"8"', '1.5', '[]', '{}', '1e400', 'true', '"yes"'))
        .filter(([k, v]) => !(k === 'use_mmap' && v === 'true'))
        .map(([k, v]) => mk(route, `option ${k} of a wrong type`, withFields(route.base, [['options', `{"${k}":${v}}`]]), [400])),
    );
  }
  if (route.kind === 'model') families.push(fc.constantFrom('""', '"   "').map((v) => mk(route, 'no model', withFields(route.base, [['model', v]]), [400])));
  return fc.oneof(...families);
}

/** Fields worth giving odd values: the APIs' own and the gateway's routing hints. */
const ODD_FIELDS = [
  'format',
  'keep_alive',
  'options',
  'template',
  'context',
  'images',
  'think',
  'tools',
  'suffix',
  'truncate',
  'dimensions',
  'temperature',
  'stop',
  'seed',
  'n',
  'response_format',
  'stream_options',
  'priority',
  'fallback_model',
  'max_latency',
  'require_gpu',
  '__proto__',
  'constructor',
];

/**
 * Valid bodies with odd extras: any field (known or not, the checked ones and the model's aliases
 * aside) set to any JSON value, nested up to `cap`.
 */
export function oddCase(route: JsonRoute, cap: number): fc.Arbitrary<JsonCase> {
  const key = fc.oneof(fc.constantFrom(...ODD_FIELDS), nastyString);
  const value = fc.oneof({ weight: 4, arbitrary: jsonText(4) }, { weight: 1, arbitrary: depth(cap).chain((d) => fc.constantFrom(deepText(d, 'array'), deepText(d, 'object'))) });
  return fc
    .array(fc.tuple(key, value), { minLength: 1, maxLength: 4 })
    .filter((kv) => kv.every(([k]) => !(k in route.checked) && k !== 'name'))
    .map((kv) => mk(route, 'odd fields', withFields(route.base, kv)));
}

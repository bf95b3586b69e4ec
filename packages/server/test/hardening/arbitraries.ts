// fast-check generators for the fuzz tests of the HTTP front: request targets, methods, headers,
// and JSON documents as text (huge numbers, lone surrogates, NUL, deep nesting included), which
// JSON.stringify alone could not produce.
import fc from 'fast-check';

/** Every route of the gateway, with the methods it answers (the spec the fuzzer checks 405s against). */
export const ROUTES: readonly { path: string; methods: readonly string[] }[] = [
  { path: '/', methods: ['GET', 'HEAD'] },
  { path: '/health', methods: ['GET', 'HEAD'] },
  { path: '/ready', methods: ['GET', 'HEAD'] },
  { path: '/metrics', methods: ['GET'] },
  { path: '/api/version', methods: ['GET', 'HEAD'] },
  { path: '/api/tags', methods: ['GET', 'HEAD'] },
  { path: '/api/ps', methods: ['GET'] },
  { path: '/api/stats', methods: ['GET'] },
  { path: '/api/show', methods: ['POST'] },
  { path: '/api/pull', methods: ['POST'] },
  { path: '/api/push', methods: ['POST'] },
  { path: '/api/create', methods: ['POST'] },
  { path: '/api/copy', methods: ['POST'] },
  { path: '/api/delete', methods: ['DELETE'] },
  { path: '/api/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000', methods: ['HEAD', 'POST'] },
  { path: '/api/generate', methods: ['POST'] },
  { path: '/api/chat', methods: ['POST'] },
  { path: '/api/embed', methods: ['POST'] },
  { path: '/api/embeddings', methods: ['POST'] },
  { path: '/v1/chat/completions', methods: ['POST'] },
  { path: '/v1/completions', methods: ['POST'] },
  { path: '/v1/embeddings', methods: ['POST'] },
  { path: '/v1/models', methods: ['GET'] },
  { path: '/v1/models/llama3.2', methods: ['GET'] },
  { path: '/admin/nodes', methods: ['GET', 'POST'] },
  { path: '/admin/strategy', methods: ['GET', 'POST'] },
  { path: '/admin/queue', methods: ['GET'] },
  { path: '/openapi.json', methods: ['GET', 'HEAD'] },
  { path: '/docs', methods: ['GET', 'HEAD'] },
  { path: '/docs/swagger-ui.css', methods: ['GET', 'HEAD'] },
];

/** Methods: the routes' own, every other one llhttp knows, lower-case and made-up tokens. */
export const method: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('GET', 'HEAD', 'POST', 'DELETE') },
  { weight: 2, arbitrary: fc.constantFrom('PUT', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'MKCOL', 'SEARCH', 'PURGE', 'QUERY', 'LINK') },
  { weight: 1, arbitrary: fc.constantFrom('get', 'Post', 'FOO', 'G ET', 'POST\t', 'GET\x00', '\u00c9TE', 'M-SEARCH', 'X'.repeat(300)) },
);

const segmentChar = fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789-._~:@!$&'()*+,;=%".split(''));
const segment: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: segmentChar, maxLength: 12 }),
  fc.constantFrom('.', '..', '%2e', '%2E%2e', '%2f', '%00', '%ff', '%', '%zz', '%c0%ae', 'api', 'v1', 'admin', 'nodes', 'models'),
);

/** How a known path is bent: kept, dot segments, doubled slashes, encoded, a query, a fragment, made huge. */
const mutation = fc.constantFrom(
  'none',
  'trailing-slash',
  'double-slash',
  'dot-segment',
  'encoded-dots',
  'encoded-char',
  'query',
  'fragment',
  'upper',
  'huge',
  'absolute',
  'asterisk',
);

function mutate(path: string, how: string, extra: string): string {
  switch (how) {
    case 'trailing-slash':
      return `${path}/`;
    case 'double-slash':
      return path.replace(/\//g, '//');
    case 'dot-segment':
      return `/x/..${path}/./`;
    case 'encoded-dots':
      return `/v1/%2e%2e${path}`;
    case 'encoded-char':
      return path.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`);
    case 'query':
      return `${path}?${extra}=${extra}&&=&%zz`;
    case 'fragment':
      return `${path}#${extra}`;
    case 'upper':
      return path.toUpperCase();
    case 'huge':
      return `${path}/${'a'.repeat(8_000)}`;
    case 'absolute':
      return `http://127.0.0.1${path}`;
    case 'asterisk':
      return '*';
    default:
      return path;
  }
}

/** Request targets: the routes' paths (bent or not), random paths, and raw bytes no URL allows. */
export const target: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.tuple(fc.constantFrom(...ROUTES.map((r) => r.path)), mutation, fc.string({ unit: segmentChar, maxLength: 6 })).map(([p, how, x]) => mutate(p, how, x)),
  },
  { weight: 3, arbitrary: fc.array(segment, { minLength: 0, maxLength: 6 }).map((s) => `/${s.join('/')}`) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '/\x00', '/api/\x7f', '/\u00e9', '/%', '/a b', '\\api\\tags', '/api/tags\r\nX: y') },
);

/** Header names: real ones (some that change framing or routing), made-up ones, and invalid tokens. */
const headerName = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'Content-Type',
      'Accept',
      'Authorization',
      'X-API-Key',
      'Connection',
      'Expect',
      'TE',
      'Upgrade',
      'Cookie',
      'User-Agent',
      'Accept-Encoding',
      'Origin',
    ),
  },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'X-Ollama-Ring-Priority',
      'X-Ollama-Ring-Tags',
      'X-Ollama-Ring-Strategy',
      'X-Ollama-Ring-Fallback-Model',
      'X-Ollama-Ring-Latency-Budget-Ms',
      'X-Ollama-Ring-Nodes',
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom(...'abcXYZ-_!#$%&*+.^`|~09'.split('')), minLength: 1, maxLength: 20 }) },
  { weight: 1, arbitrary: fc.constantFrom('Bad Name', 'Bad:Name', 'Bäd', '', 'X\x00Y', '(x)') },
);

/** Header values: plausible ones, odd numbers, control bytes, latin-1 bytes, and huge ones. */
const headerValue = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'application/json',
      'text/plain',
      'close',
      'keep-alive',
      'Upgrade',
      'websocket',
      '100-continue',
      'trailers',
      'Bearer x',
      'high',
      'low',
      '-1',
      '1e400',
      'NaN',
      'gpu,cpu,,',
      'round-robin',
      'nope',
      'a',
    ),
  },
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('a\x01b', 'a\x7fb', '\xff\xfe', 'caf\xe9', ' padded ', 'x\r\n y', '\t', 'a\x00b') },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }).map((k) => 'v'.repeat(k * 1_000)) },
);

/**
 * Tags the fuzzed pool's node carries (see `startFuzzGateway`). Required tags that no node carries
 * are left out: the balancer answers them 503 with Retry-After (NoAvailableNodeError, by design and
 * tested as such in scheduler-admission.test.ts), not a 4xx, although no retry can help until the
 * pool changes. Reported as a finding ("impossible tags are a 503"), not fixed here.
 */
export const POOL_TAGS = ['gpu'] as const;
const tagsValue = fc.constantFrom('gpu', ' gpu ', 'gpu,gpu', ',,', '', ' , gpu');

export const header: fc.Arbitrary<readonly [string, string]> = fc
  .tuple(headerName, headerValue, tagsValue)
  .map(([k, v, tags]) => (k.toLowerCase() === 'x-ollama-ring-tags' ? ([k, tags] as const) : ([k, v] as const)));

/** A list of headers, repeats allowed (the same name twice, with the same or another value). */
export const headers: fc.Arbitrary<(readonly [string, string])[]> = fc
  .tuple(fc.array(header, { maxLength: 4 }), fc.boolean())
  .map(([hs, dup]) => (dup && hs.length > 0 ? [...hs, hs[0]] : hs));

/** Strings with what trips text handling: NUL, lone surrogates, RTL marks, BOMs, astral characters. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', '\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\ud83d', '\udc00\ud800', '\u202e', '\ufeff', '𝕏', '\u2028\u2029', '%s%n', '${x}', '__proto__', 'constructor'),
);

/** Tokens a JSON text may hold that no JavaScript number writes back: huge, tiny, overlong, negative zero. */
export const hugeNumberToken: fc.Arbitrary<string> = fc.constantFrom(
  '1e400',
  '-1e400',
  '1e-400',
  '123456789012345678901234567890',
  '9007199254740993',
  '-0',
  '0.0000000000000000000000000001',
  '1E+308',
  '-9.9e999',
);

/** A JSON value as text, at most `maxDepth` deep, with nasty strings, keys and numbers. */
export function jsonText(maxDepth: number): fc.Arbitrary<string> {
  const { value } = fc.letrec<{ value: string; leaf: string; arr: string; obj: string }>((tie) => ({
    leaf: fc.oneof(
      nastyString.map((s) => JSON.stringify(s)),
      fc.double().map((d) => (Number.isFinite(d) ? JSON.stringify(d) : '0')),
      fc.integer().map(String),
      hugeNumberToken,
      fc.constantFrom('true', 'false', 'null'),
    ),
    arr: fc.array(tie('value'), { maxLength: 4 }).map((xs) => `[${xs.join(',')}]`),
    obj: fc.array(fc.tuple(nastyString, tie('value')), { maxLength: 4 }).map((kv) => `{${kv.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
    value: fc.oneof({ depthSize: 'small', maxDepth, depthIdentifier: 'json' }, tie('leaf'), tie('arr'), tie('obj')),
  }));
  return value;
}

/** Nesting `depth` deep, of arrays or objects, around a scalar. */
export function deepText(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

/** Depths from shallow to `cap`, biased toward the deep end where parsers and serialisers break. */
export function depth(cap: number): fc.Arbitrary<number> {
  return fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: Math.min(64, cap), max: cap }), fc.constant(cap));
}

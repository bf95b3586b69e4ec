// Fuzzes the gateway's HTTP front with methods, request targets and headers, over raw sockets.
// Properties: no 5xx, every 4xx in the caller's shape (or Ollama's plain 404/405, or the bare status
// of Node's parser), an answer or a close within the bound, nothing left in flight, and no request
// the gateway refused by itself reached a node.
import fc from 'fast-check';
import type { GatewayHarness } from '../gateway-harness';
import { ROUTES, headers, method, target } from './arbitraries';
import { EXCHANGE_BOUND_MS, callerFlavor, errorShapeProblem, exchangeProblem, expectSettled, fuzzParams, fuzzTimeout, nodeRequests, startFuzzGateway } from './fuzz-support';
import { rawExchange, requestBytes, type RawResponse } from './raw-http';

const BODIES: Record<string, Buffer | undefined> = {
  none: undefined,
  empty: Buffer.alloc(0),
  garbage: Buffer.from('{"model":'),
  generate: Buffer.from(JSON.stringify({ model: 'llama3.2', prompt: 'x', stream: false, options: { num_predict: 2 } })),
  openai: Buffer.from(JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'x' }], max_tokens: 2, stream: true })),
};

/** The gateway refused by itself: the router's 404/405, Node's parser, or the auth checks. */
function refusedAtTheDoor(r: RawResponse): boolean {
  if (r.status === 404 || r.status === 405) return (r.headers['content-type'] ?? '').startsWith('text/plain');
  if (r.status === 401 || r.status === 403) return true;
  return errorShapeProblem(r, 'ollama', false) === undefined && r.headers['content-type'] === undefined && r.status >= 400 && r.status < 500;
}

describe('HTTP front fuzz: methods, targets, headers', () => {
  let g: GatewayHarness;
  let port: number;
  beforeAll(async () => {
    g = await startFuzzGateway();
    port = Number(new URL(g.url).port);
  });
  afterAll(() => g.close());

  const runs = 300;
  it(
    'answers every request within the bound, never with a 5xx, errors in the caller shape, and refused requests reach no node',
    async () => {
      await fc.assert(
        fc.asyncProperty(method, target, headers, fc.constantFrom(...Object.keys(BODIES)), fc.constantFrom('HTTP/1.1', 'HTTP/1.0'), async (m, t, hs, bodyKind, version) => {
          const before = nodeRequests(g);
          const bytes = requestBytes(m, t, hs, BODIES[bodyKind], { version });
          const x = await rawExchange(port, [bytes], { expect: 1, head: [m === 'HEAD'], timeoutMs: EXCHANGE_BOUND_MS });
          const problem = exchangeProblem(x, callerFlavor(t), [m === 'HEAD'], false);
          if (problem) throw new Error(problem);
          await expectSettled(g);
          const r = x.responses[0];
          if (refusedAtTheDoor(r) && nodeRequests(g) !== before) throw new Error(`refused with ${r.status}, yet a node saw ${nodeRequests(g) - before} request(s)`);
        }),
        fuzzParams(runs),
      );
    },
    fuzzTimeout(runs, 300),
  );

  it(
    'a known path with a method it does not take is 405 with Allow, and reaches no node',
    async () => {
      const wrong = fc.tuple(fc.constantFrom(...ROUTES), fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS')).filter(([r, m]) => !r.methods.includes(m));
      await fc.assert(
        fc.asyncProperty(wrong, async ([route, m]) => {
          const before = nodeRequests(g);
          const x = await rawExchange(port, [requestBytes(m, route.path, [], m === 'POST' ? BODIES.generate : undefined)], { expect: 1, timeoutMs: EXCHANGE_BOUND_MS });
          expect(x.responses[0]).toMatchObject({ status: 405 });
          expect(x.responses[0].headers.allow?.split(', ').sort()).toEqual([...route.methods].sort());
          expect(nodeRequests(g)).toBe(before);
        }),
        fuzzParams(40),
      );
    },
    fuzzTimeout(40, 100),
  );

  it('still serves afterwards', async () => {
    const res = await fetch(`${g.url}/api/generate`, { method: 'POST', body: BODIES.generate });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { done: boolean }).done).toBe(true);
    await expectSettled(g);
  });
});

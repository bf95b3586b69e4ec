// Fuzzes every route that reads a JSON body with generated bodies. Properties: a body the gateway
// must refuse gets its 4xx in the caller's shape and reaches no node; a valid but odd body (unknown
// fields, nasty strings, huge numbers, deep nesting) may reach a node but never comes back as a 5xx;
// every exchange ends within the bound and leaves nothing in flight.
import fc from 'fast-check';
import type { GatewayHarness } from '../gateway-harness';
import { JSON_ROUTES, oddCase, refusedCase, type JsonCase, type JsonRoute } from './json-cases';
import { ADMIN_TOKEN, EXCHANGE_BOUND_MS, exchangeProblem, expectSettled, fuzzParams, fuzzTimeout, nodeRequests, startFuzzGateway } from './fuzz-support';
import { rawExchange, requestBytes } from './raw-http';

/** How deep generated JSON nests. */
const DEPTH_CAP = 10_000;

/** Every route takes the same depth: /api/show and /api/pull, which re-serialise the body, included. */
function capFor(_route: JsonRoute): number {
  return DEPTH_CAP;
}

async function send(g: GatewayHarness, c: JsonCase): Promise<void> {
  const port = Number(new URL(g.url).port);
  const headers: [string, string][] = [['Content-Type', 'application/json']];
  if (c.route.kind === 'admin') headers.push(['Authorization', `Bearer ${ADMIN_TOKEN}`]);
  const before = nodeRequests(g);
  const x = await rawExchange(port, [requestBytes(c.route.method, c.route.path, headers, c.body)], { expect: 1, timeoutMs: EXCHANGE_BOUND_MS });
  const what = `${c.route.method} ${c.route.path}, ${c.family} (${c.body.length} bytes: ${JSON.stringify(c.body.subarray(0, 120).toString('utf8'))})`;
  const problem = exchangeProblem(x, c.route.flavor, [], false);
  if (problem) throw new Error(`${what}: ${problem}`);
  await expectSettled(g);
  if (c.refuse === undefined) return;
  const status = x.responses[0].status;
  if (!c.refuse.includes(status)) throw new Error(`${what}: ${status} ${x.responses[0].body.toString('utf8').slice(0, 200)}, not ${c.refuse.join(' or ')}`);
  const seen = nodeRequests(g) - before;
  if (seen !== 0) throw new Error(`${what}: refused with ${status}, yet the node saw ${seen} request(s)`);
}

describe('JSON body fuzz, every route that reads one', () => {
  let g: GatewayHarness;
  beforeAll(async () => {
    g = await startFuzzGateway();
  });
  afterAll(() => g.close());

  const refusedRuns = 400;
  it(
    'bodies the gateway must refuse get their 4xx in the caller shape, and reach no node',
    async () => {
      const cases = fc.constantFrom(...JSON_ROUTES).chain((r) => refusedCase(r, capFor(r)));
      await fc.assert(
        fc.asyncProperty(cases, (c) => send(g, c)),
        fuzzParams(refusedRuns),
      );
    },
    fuzzTimeout(refusedRuns, 200),
  );

  const oddRuns = 200;
  it(
    'valid bodies with odd fields and values never come back as a 5xx',
    async () => {
      const cases = fc.constantFrom(...JSON_ROUTES.filter((r) => r.odd)).chain((r) => oddCase(r, capFor(r)));
      await fc.assert(
        fc.asyncProperty(cases, (c) => send(g, c)),
        fuzzParams(oddRuns),
      );
    },
    fuzzTimeout(oddRuns, 300),
  );
});

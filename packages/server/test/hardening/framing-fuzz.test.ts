// Fuzzes request framing over raw TCP: chunked bodies, Content-Length against Transfer-Encoding,
// bad lengths and chunk sizes, requests split across segments, cut short, or pipelined. Properties:
// a well-framed request gets exactly one answer, a badly framed one a 4xx or a close (never a 5xx),
// nothing hangs, nothing stays in flight, and no request that was not whole and well framed (a
// smuggled one included) reaches a node.
import fc from 'fast-check';
import type { GatewayHarness } from '../gateway-harness';
import { BAD, GOOD, PIPELINED, delivery, framings, shortLength, split } from './framing-cases';
import { EXCHANGE_BOUND_MS, exchangeProblem, expectSettled, fuzzParams, fuzzTimeout, nodeRequests, startFuzzGateway } from './fuzz-support';
import { rawExchange } from './raw-http';

describe('HTTP framing fuzz over raw sockets', () => {
  let g: GatewayHarness;
  let port: number;
  beforeAll(async () => {
    g = await startFuzzGateway();
    port = Number(new URL(g.url).port);
  });
  afterAll(() => g.close());

  const count = framings(GOOD, [1]).length;
  const runs = 150;
  it(
    'one framed request, delivered whole, in pieces, cut short or with a short length',
    async () => {
      const chunkSizes = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 6 });
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: count - 1 }), fc.boolean(), chunkSizes, delivery, async (which, good, sizes, how) => {
          const body = good ? GOOD : BAD;
          const f = framings(body, sizes)[which];
          const before = nodeRequests(g);
          let parts: Buffer[] = [f.bytes];
          let complete = true;
          let valid = f.valid;
          if (how.kind === 'split') parts = split(f.bytes, how.cuts);
          if (how.kind === 'truncated') {
            parts = [f.bytes.subarray(0, how.at % f.bytes.length)];
            complete = false;
          }
          if (how.kind === 'short-length') {
            parts = [shortLength(body, how.by)];
            valid = false;
          }
          const x = await rawExchange(port, parts, { expect: valid ? 1 : 2, timeoutMs: EXCHANGE_BOUND_MS, endAfterWrite: !complete, gapMs: parts.length > 1 ? 1 : 0 });
          const what = `${f.name}, ${good ? 'valid' : 'malformed'} body, ${how.kind}`;
          const problem = exchangeProblem(x, 'ollama', [], !complete || !valid);
          if (problem) throw new Error(`${what}: ${problem}`);
          await expectSettled(g);
          const seen = nodeRequests(g) - before;
          if (complete && valid) {
            if (x.responses.length !== 1) throw new Error(`${what}: ${x.responses.length} responses to one request`);
            const want = good ? 200 : 400;
            if (x.responses[0].status !== want) throw new Error(`${what}: ${x.responses[0].status}, not ${want}`);
            if (seen !== (good ? 1 : 0)) throw new Error(`${what}: the node saw ${seen} requests`);
          } else if (seen !== 0) {
            throw new Error(`${what}: a request that was not whole and well framed reached the node (${seen})`);
          }
        }),
        fuzzParams(runs),
      );
    },
    fuzzTimeout(runs, 400),
  );

  const pipelineRuns = 60;
  it(
    'pipelined requests on one connection: one answer each, in order, each with its own status',
    async () => {
      const pipeline = fc.array(fc.constantFrom(...PIPELINED), { minLength: 2, maxLength: 6 });
      const cuts = fc.option(fc.array(fc.integer({ min: 1, max: 2_000 }), { minLength: 1, maxLength: 5 }), { nil: undefined });
      await fc.assert(
        fc.asyncProperty(pipeline, cuts, async (reqs, at) => {
          const bytes = Buffer.concat(reqs.map((r) => r.bytes));
          const parts = at ? split(bytes, at) : [bytes];
          const head = reqs.map((r) => r.head);
          const x = await rawExchange(port, parts, { expect: reqs.length, head, timeoutMs: EXCHANGE_BOUND_MS, gapMs: parts.length > 1 ? 1 : 0 });
          const problem = exchangeProblem(
            x,
            reqs.map((r) => r.flavor),
            head,
            false,
          );
          if (problem) throw new Error(problem);
          expect(x.responses.map((r) => r.status)).toEqual(reqs.map((r) => r.status));
          await expectSettled(g);
        }),
        fuzzParams(pipelineRuns),
      );
    },
    fuzzTimeout(pipelineRuns, 500),
  );

  it('a request left unfinished on an open connection gets 408 within the request timeout, and reaches no node', async () => {
    const before = nodeRequests(g);
    const f = framings(GOOD, [8]);
    const cases = [
      // Headers never finished.
      Buffer.from('POST /api/generate HTTP/1.1\r\nHost: a\r\nContent-Le'),
      // A body shorter than its length.
      f[0].bytes.subarray(0, f[0].bytes.length - 5),
      // A chunked body without its last chunk.
      f[1].bytes.subarray(0, f[1].bytes.length - 5),
    ];
    // The gateway's requestTimeout is 3 s, checked every 750 ms: a generous bound for a loaded machine.
    const xs = await Promise.all(cases.map((c) => rawExchange(port, [c], { expect: 1, timeoutMs: EXCHANGE_BOUND_MS })));
    for (const x of xs) {
      expect(x.timedOut).toBe(false);
      expect(x.responses.map((r) => r.status)).toEqual([408]);
    }
    await expectSettled(g);
    expect(nodeRequests(g)).toBe(before);
  });
});

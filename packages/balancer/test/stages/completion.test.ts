import { RequestAbortedError, UpstreamError, UpstreamTimeoutError } from '../../src/errors';
import type { Outcome } from '../../src/scheduler/observer';
import { type CompletionVerdict, judge, upstreamMessage } from '../../src/stages/completion';
import type { DispatchOutcome } from '../../src/stages/dispatch-types';

const httpError = (status: number, body: string): DispatchOutcome => ({ kind: 'http-error', status, body, started: false, latencyMs: 1 });
const failed = (error: UpstreamError, o: { started?: boolean; refused?: boolean } = {}): DispatchOutcome => ({
  kind: 'failed',
  error,
  started: o.started ?? false,
  refused: o.refused ?? false,
  latencyMs: 1,
  ttftMs: 0,
});
const OLLAMA_404 = '{"error":"model \'xyz\' not found"}';
const EMBED_404 = '{"error":"model \\"xyz\\" not found, try pulling it first"}';
const BUSY_503 = '{"error":"server busy, please try again.  maximum pending requests exceeded"}';

type Expect = Pick<CompletionVerdict, 'nodeFailure' | 'nodeDown' | 'retryable' | 'outcome'> & {
  modelMissing?: boolean;
  routeMissing?: boolean;
  status?: number;
  message?: string;
  errorClass?: new (...a: never[]) => Error;
};

describe('judge', () => {
  test.each<[string, DispatchOutcome, Expect]>([
    ['ok', { kind: 'ok', status: 200, started: true, ttftMs: 1, latencyMs: 2 }, { nodeFailure: false, nodeDown: false, retryable: false, outcome: 'success' }],
    [
      'ok with an in-band error line: a node failure, never retried (bytes already sent)',
      { kind: 'ok', status: 200, started: true, ttftMs: 1, latencyMs: 2, inBandError: 'runner crashed' },
      { nodeFailure: true, nodeDown: false, retryable: false, outcome: 'upstream_error', status: 500, message: 'runner crashed', errorClass: UpstreamError },
    ],
    [
      'ok, but an SSE stream that ended without [DONE] (Ollama cut it after a failure): a node failure, never retried',
      { kind: 'ok', status: 200, started: true, ttftMs: 1, latencyMs: 2, unterminated: true },
      { nodeFailure: true, nodeDown: false, retryable: false, outcome: 'upstream_error', status: 502, errorClass: UpstreamError },
    ],
    [
      '404 model not found (generate/chat text): model missing there, retry elsewhere, not a node failure',
      httpError(404, OLLAMA_404),
      { nodeFailure: false, nodeDown: false, retryable: true, modelMissing: true, outcome: 'client_error', status: 404, message: "model 'xyz' not found" },
    ],
    [
      '404 model not found (embed text)',
      httpError(404, EMBED_404),
      { nodeFailure: false, nodeDown: false, retryable: true, modelMissing: true, outcome: 'client_error', status: 404, message: 'model "xyz" not found, try pulling it first' },
    ],
    [
      '404 model not found from the OpenAI layer: the same message in its shape',
      httpError(404, '{"error":{"message":"model \'xyz:latest\' not found","type":"not_found_error","param":null,"code":null}}\n'),
      { nodeFailure: false, nodeDown: false, retryable: true, modelMissing: true, outcome: 'client_error', status: 404, message: "model 'xyz:latest' not found" },
    ],
    [
      "gin's 404 page not found (a route the node lacks): not the model, not a node failure; may be tried elsewhere",
      httpError(404, '404 page not found'),
      { nodeFailure: false, nodeDown: false, retryable: true, routeMissing: true, outcome: 'client_error', status: 404, message: '404 page not found' },
    ],
    [
      '404 with another text: not the model either',
      httpError(404, '{"error":"no such thing"}'),
      { nodeFailure: false, nodeDown: false, retryable: true, routeMissing: true, outcome: 'client_error', status: 404, message: 'no such thing' },
    ],
    [
      '404 whose text merely contains "not found": not the model',
      httpError(404, '{"error":"blob \\"sha256:00\\" not found"}'),
      { nodeFailure: false, nodeDown: false, retryable: true, routeMissing: true, outcome: 'client_error', status: 404 },
    ],
    [
      '429: node failure, retryable',
      httpError(429, '{"error":"too many requests"}'),
      { nodeFailure: true, nodeDown: false, retryable: true, outcome: 'upstream_error', status: 429, message: 'too many requests' },
    ],
    [
      '503 server busy: node failure, retryable',
      httpError(503, BUSY_503),
      { nodeFailure: true, nodeDown: false, retryable: true, outcome: 'upstream_error', status: 503, message: 'server busy, please try again.  maximum pending requests exceeded' },
    ],
    [
      '500 load failure',
      httpError(500, '{"error":"timed out waiting for llama-server to start"}'),
      { nodeFailure: true, nodeDown: false, retryable: true, outcome: 'upstream_error', status: 500 },
    ],
    [
      '502 from a proxy in front of the node',
      httpError(502, '<html>Bad Gateway</html>'),
      { nodeFailure: true, nodeDown: false, retryable: true, outcome: 'upstream_error', status: 502 },
    ],
    ['599', httpError(599, ''), { nodeFailure: true, nodeDown: false, retryable: true, outcome: 'upstream_error', status: 599, message: 'upstream answered 599' }],
    [
      '400 bad request: passed through unchanged, not the node’s fault',
      httpError(400, '{"error":"\\"m\\" does not support thinking"}'),
      { nodeFailure: false, nodeDown: false, retryable: false, outcome: 'client_error', status: 400, message: '"m" does not support thinking' },
    ],
    ['401', httpError(401, 'unauthorized'), { nodeFailure: false, nodeDown: false, retryable: false, outcome: 'client_error', status: 401, message: 'unauthorized' }],
    ['499 request canceled', httpError(499, '{"error":"request canceled"}'), { nodeFailure: false, nodeDown: false, retryable: false, outcome: 'client_error', status: 499 }],
    [
      'connection refused before any byte: node down, retryable',
      failed(new UpstreamError('a', 0, 'ECONNREFUSED'), { refused: true }),
      { nodeFailure: true, nodeDown: true, retryable: true, outcome: 'upstream_error', status: 502 },
    ],
    [
      'reset before any byte: node failure, retryable, not down',
      failed(new UpstreamError('a', 0, 'socket hang up')),
      { nodeFailure: true, nodeDown: false, retryable: true, outcome: 'upstream_error' },
    ],
    [
      'reset after the first byte: node failure, not retryable',
      failed(new UpstreamError('a', 0, 'socket hang up'), { started: true }),
      { nodeFailure: true, nodeDown: false, retryable: false, outcome: 'upstream_error' },
    ],
    [
      'first-byte timeout: a timeout, counts against the node, retryable',
      failed(new UpstreamTimeoutError('a', 'first-byte', 60_000)),
      { nodeFailure: true, nodeDown: false, retryable: true, outcome: 'timeout', status: 504, errorClass: UpstreamTimeoutError },
    ],
    [
      'idle timeout mid-stream: a timeout, not retryable',
      failed(new UpstreamTimeoutError('a', 'idle', 30_000), { started: true }),
      { nodeFailure: true, nodeDown: false, retryable: false, outcome: 'timeout' },
    ],
    [
      'aborted (client gone): not the node’s fault, not retried',
      { kind: 'aborted', started: true, latencyMs: 1 },
      { nodeFailure: false, nodeDown: false, retryable: false, outcome: 'aborted', status: 499, errorClass: RequestAbortedError },
    ],
    [
      'aborted before any byte',
      { kind: 'aborted', started: false, latencyMs: 1 },
      { nodeFailure: false, nodeDown: false, retryable: false, outcome: 'aborted', errorClass: RequestAbortedError },
    ],
  ])('%s', (_name, outcome, e) => {
    const v = judge('a', outcome);
    expect({ nodeFailure: v.nodeFailure, nodeDown: v.nodeDown, retryable: v.retryable, outcome: v.outcome as Outcome }).toEqual({
      nodeFailure: e.nodeFailure,
      nodeDown: e.nodeDown,
      retryable: e.retryable,
      outcome: e.outcome,
    });
    expect(Boolean(v.modelMissing)).toBe(Boolean(e.modelMissing));
    expect(Boolean(v.routeMissing)).toBe(Boolean(e.routeMissing));
    if (e.outcome === 'success') expect(v.error).toBeUndefined();
    else expect(v.error).toBeDefined();
    if (e.status !== undefined) expect(v.error?.status).toBe(e.status);
    if (e.message !== undefined) expect(v.error?.message).toBe(e.message);
    if (e.errorClass) expect(v.error).toBeInstanceOf(e.errorClass);
  });

  test('an upstream error carries the node, the upstream status and the raw body for pass-through', () => {
    const v = judge('gpu-2', httpError(400, '{"error":"bad"}'));
    const err = v.error as UpstreamError;
    expect(err).toBeInstanceOf(UpstreamError);
    expect([err.nodeId, err.upstreamStatus, err.body, err.code]).toEqual(['gpu-2', 400, '{"error":"bad"}', 'ERR_UPSTREAM']);
  });

  test('an in-band error is marked delivered (the sink must not write it again); no other error is', () => {
    const inBand = judge('a', { kind: 'ok', status: 200, started: true, ttftMs: 1, latencyMs: 2, inBandError: 'runner crashed' }).error as UpstreamError;
    expect([inBand.inBand, inBand.code]).toEqual([true, 'ERR_UPSTREAM']);
    expect((judge('a', httpError(500, '{"error":"x"}')).error as UpstreamError).inBand).toBe(false);
    // An SSE stream cut without a word: the client has had no error yet, the sink writes one.
    expect((judge('a', { kind: 'ok', status: 200, started: true, ttftMs: 1, latencyMs: 2, unterminated: true }).error as UpstreamError).inBand).toBe(false);
    // The node's own error event ended it: that is the error, already delivered.
    expect((judge('a', { kind: 'ok', status: 200, started: true, ttftMs: 1, latencyMs: 2, inBandError: 'x', unterminated: true }).error as UpstreamError).inBand).toBe(true);
    expect((judge('a', failed(new UpstreamError('a', 0, 'x'), { started: true })).error as UpstreamError).inBand).toBe(false);
  });

  test('a failed outcome keeps its own error object', () => {
    const e = new UpstreamError('a', 0, 'x');
    expect(judge('a', failed(e)).error).toBe(e);
  });
});

describe('upstreamMessage', () => {
  test.each<[string, number, string]>([
    ['{"error":"model \'x\' not found"}', 404, "model 'x' not found"],
    ['{"error":{"message":"model \'x\' not found","type":"not_found_error","param":null,"code":null}}\n', 404, "model 'x' not found"],
    ['{"error":{"type":"api_error"}}', 500, '{"error":{"type":"api_error"}}'],
    ['{"error":42}', 500, '{"error":42}'],
    ['{"detail":"x"}', 500, '{"detail":"x"}'],
    ['null', 502, 'null'],
    ['"just a string"', 502, '"just a string"'],
    ['  404 page not found\n', 404, '404 page not found'],
    ['', 503, 'upstream answered 503'],
    ['   \n', 500, 'upstream answered 500'],
  ])('%p (%i) → %p', (body, status, expected) => {
    expect(upstreamMessage(body, status)).toBe(expected);
  });
});

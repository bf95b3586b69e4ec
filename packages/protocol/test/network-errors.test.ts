import { classifyNetworkError, networkErrorCode } from '@ollama-ring/protocol';

const withCode = (code: string) => Object.assign(new Error(`failed: ${code}`), { code });

describe('classifyNetworkError', () => {
  test.each<[string, string, string | undefined, boolean]>([
    ['ECONNREFUSED', 'refused', undefined, true],
    ['EHOSTUNREACH', 'refused', undefined, true],
    ['ENETUNREACH', 'refused', undefined, true],
    ['ENOTFOUND', 'refused', undefined, true],
    ['UND_ERR_CONNECT_TIMEOUT', 'timeout', 'connect', true],
    ['ETIMEDOUT', 'timeout', 'connect', true],
    ['UND_ERR_HEADERS_TIMEOUT', 'timeout', 'first-byte', true],
    ['UND_ERR_BODY_TIMEOUT', 'timeout', 'idle', true],
    ['UND_ERR_ABORTED', 'aborted', undefined, false],
    ['ABORT_ERR', 'aborted', undefined, false],
    ['ECONNRESET', 'network', undefined, true],
    ['UND_ERR_SOCKET', 'network', undefined, true],
    ['EPIPE', 'network', undefined, true],
  ])('%s is %s (phase %p, retryable %p)', (code, kind, phase, retryable) => {
    expect(classifyNetworkError(withCode(code))).toEqual({ kind, code, retryable, ...(phase ? { phase } : {}) });
  });

  test('an error without a code is a network error', () => {
    expect(classifyNetworkError(new Error('other side closed'))).toEqual({ kind: 'network', code: '', retryable: true });
    expect(classifyNetworkError('a string')).toEqual({ kind: 'network', code: '', retryable: true });
    expect(classifyNetworkError(undefined)).toEqual({ kind: 'network', code: '', retryable: true });
  });

  test("the code is found on the cause (undici's fetch wraps it)", () => {
    const e = new TypeError('fetch failed', { cause: withCode('ECONNREFUSED') });
    expect(classifyNetworkError(e).kind).toBe('refused');
  });

  test("the code is found in an AggregateError's members (happy-eyeballs connect to localhost)", () => {
    const e = new AggregateError([new Error('no code'), withCode('ECONNREFUSED')], 'connect failed');
    expect(networkErrorCode(e)).toBe('ECONNREFUSED');
    expect(classifyNetworkError(e).kind).toBe('refused');
  });
});

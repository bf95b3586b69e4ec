// The soak's end counting, on answers written by hand: what makes a request end once, never, or twice.
import { countEnds, requestOf } from '../src/soak/workload';

const NDJSON = 'application/x-ndjson';
const SSE = 'text/event-stream';
const JSON_CT = 'application/json; charset=utf-8';

describe('countEnds', () => {
  const stream = requestOf('chat-stream', 4);
  const oaStream = requestOf('openai-chat-stream', 4);
  const single = requestOf('generate', 4);

  test.each<[string, ReturnType<typeof requestOf>, number, string, string, { count: number; error?: string; afterEnd: boolean }]>([
    ['an NDJSON stream ending with done', stream, 200, NDJSON, '{"done":false}\n{"done":true}\n', { count: 1, afterEnd: false }],
    ['an NDJSON stream cut off cleanly', stream, 200, NDJSON, '{"done":false}\n', { count: 0, afterEnd: false }],
    ['an NDJSON stream ending with an in-band error', stream, 200, NDJSON, '{"done":false}\n{"error":"boom"}\n', { count: 1, error: 'boom', afterEnd: false }],
    ['the same error twice', stream, 200, NDJSON, '{"done":false}\n{"error":"boom"}\n{"error":"boom"}\n', { count: 2, error: 'boom', afterEnd: true }],
    ['an error after done', stream, 200, NDJSON, '{"done":true}\n{"error":"late"}\n', { count: 2, error: 'late', afterEnd: true }],
    ['SSE ending with [DONE]', oaStream, 200, SSE, 'data: {"choices":[]}\n\ndata: [DONE]\n\n', { count: 1, afterEnd: false }],
    ['SSE ending with an error event', oaStream, 200, SSE, 'data: {"choices":[]}\n\ndata: {"error":{"message":"boom"}}\n\n', { count: 1, error: 'boom', afterEnd: false }],
    ['SSE without [DONE] nor error', oaStream, 200, SSE, 'data: {"choices":[]}\n\n', { count: 0, afterEnd: false }],
    ['a chunk after [DONE]', oaStream, 200, SSE, 'data: [DONE]\n\ndata: {"choices":[]}\n\n', { count: 1, afterEnd: true }],
    ['one answer body', single, 200, JSON_CT, '{"done":true,"response":"x"}', { count: 1, afterEnd: false }],
    ['one error body', single, 503, JSON_CT, '{"error":"busy"}', { count: 1, error: 'busy', afterEnd: false }],
    ['an error status without a body', single, 502, '', '', { count: 0, afterEnd: false }],
  ])('%s', (_name, spec, status, type, text, want) => {
    expect(countEnds(spec, status, type, text)).toEqual(want);
  });
});

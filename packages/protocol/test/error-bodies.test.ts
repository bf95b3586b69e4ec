import {
  ERROR_CONTENT_TYPE,
  errorBody,
  errorMessageIn,
  errorMessageOf,
  errorText,
  isErrorBody,
  isModelNotFound,
  ollamaErrorBody,
  openAIErrorBody,
  openAIErrorType,
  streamErrorLine,
} from '@ollama-ring/protocol';

describe('building error bodies', () => {
  test('Ollama: {"error":"…"} with no trailing newline (gin c.JSON)', () => {
    expect(ollamaErrorBody("model 'x' not found")).toBe('{"error":"model \'x\' not found"}');
    expect(errorBody('ollama', 404, 'gone')).toBe('{"error":"gone"}');
  });

  test.each<[number, string]>([
    [400, 'invalid_request_error'],
    [404, 'not_found_error'],
    [401, 'api_error'],
    [429, 'api_error'],
    [500, 'api_error'],
    [503, 'api_error'],
  ])('OpenAI: status %p has type %p', (status, type) => {
    expect(openAIErrorType(status)).toBe(type);
    expect(openAIErrorBody(status, 'm')).toBe(`{"error":{"message":"m","type":"${type}","param":null,"code":null}}\n`);
    expect(errorBody('openai', status, 'm')).toBe(openAIErrorBody(status, 'm'));
  });

  test('content types: gin for native errors, the OpenAI middleware its own', () => {
    expect(ERROR_CONTENT_TYPE).toEqual({ ollama: 'application/json; charset=utf-8', openai: 'application/json' });
  });

  test('in-band stream errors: an NDJSON line, or an SSE event', () => {
    expect(streamErrorLine('ollama', 'boom')).toBe('{"error":"boom"}\n');
    expect(streamErrorLine('openai', 'boom')).toBe('data: {"error":{"message":"boom","type":"api_error","param":null,"code":null}}\n\n');
  });
});

describe('parsing error bodies', () => {
  test.each<[string, string | undefined]>([
    ['{"error":"model \'x\' not found"}', "model 'x' not found"],
    ['{"error":{"message":"nope","type":"api_error","param":null,"code":null}}\n', 'nope'],
    ['{"error":{"type":"api_error"}}', undefined],
    ['{"error":42}', undefined],
    ['{"message":"x"}', undefined],
    ['null', undefined],
    ['"error"', undefined],
    ['404 page not found', undefined],
    ['', undefined],
  ])('errorMessageOf(%p) = %p', (body, message) => {
    expect(errorMessageOf(body)).toBe(message);
  });

  test('errorMessageIn: the same, of an object already parsed (a stream line or event)', () => {
    expect(errorMessageIn({ error: 'boom' })).toBe('boom');
    expect(errorMessageIn({ error: { message: 'boom', type: 'api_error' } })).toBe('boom');
    expect(errorMessageIn({ done: true })).toBeUndefined();
    expect(errorMessageIn(undefined)).toBeUndefined();
  });

  test.each<[string, number, string, boolean]>([
    ['generate/chat', 404, `{"error":"model 'xyz' not found"}`, true],
    ['show (normalised name)', 404, `{"error":"model 'xyz:latest' not found"}`, true],
    ['embed (%q, with the hint)', 404, '{"error":"model \\"xyz\\" not found, try pulling it first"}', true],
    ['copy (%q)', 404, '{"error":"model \\"xyz\\" not found"}', true],
    ['the OpenAI layer', 404, `{"error":{"message":"model 'x:latest' not found","type":"not_found_error","param":null,"code":null}}\n`, true],
    ["gin's route 404", 404, '404 page not found', false],
    ['a bare text that says not found', 404, "model 'xyz' not found", false],
    ['another JSON 404', 404, '{"error":"not found"}', false],
    ['a blob', 404, '{"error":"blob \\"sha256:00\\" not found"}', false],
    ['the right text with another status', 400, `{"error":"model 'xyz' not found"}`, false],
  ])('isModelNotFound: %s', (_name, status, body, expected) => {
    expect(isModelNotFound(status, body)).toBe(expected);
  });

  test('round trip: every body built parses back to its message', () => {
    for (const flavor of ['ollama', 'openai'] as const) {
      for (const status of [400, 404, 500, 503]) {
        const body = errorBody(flavor, status, `m ${status} "quoted"`);
        expect(errorMessageOf(body)).toBe(`m ${status} "quoted"`);
        expect(isErrorBody(body, flavor)).toBe(true);
        expect(isErrorBody(body, flavor === 'ollama' ? 'openai' : 'ollama')).toBe(false);
      }
    }
  });

  test.each(['not json', 'null', '[]', '{"error":null}'])('isErrorBody(%p) is false in both shapes', (body) => {
    expect(isErrorBody(body, 'ollama')).toBe(false);
    expect(isErrorBody(body, 'openai')).toBe(false);
  });

  test('errorText: the message, else the trimmed text cut to a length, else empty', () => {
    expect(errorText('{"error":"boom"}')).toBe('boom');
    expect(errorText('  404 page not found\n')).toBe('404 page not found');
    expect(errorText('x'.repeat(400))).toBe(`${'x'.repeat(297)}...`);
    expect(errorText('x'.repeat(400), 20)).toBe(`${'x'.repeat(17)}...`);
    expect(errorText('   ')).toBe('');
  });
});

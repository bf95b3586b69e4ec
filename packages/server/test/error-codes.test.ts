import { OllamaRingError } from '@ollama-ring/protocol';
import { BodyError, NodeCallError } from '../src';
import { UsageError } from '../src/commands/types';
import { ShutdownAbort } from '../src/http/operations';

describe("the gateway's own errors", () => {
  test.each<[string, OllamaRingError, string]>([
    ['BodyError', new BodyError(413, 'too large'), 'ERR_BODY'],
    ['NodeCallError', new NodeCallError('a', 502, 'refused'), 'ERR_NODE_CALL'],
    ['ShutdownAbort', new ShutdownAbort(), 'ERR_SHUTDOWN_ABORT'],
    ['UsageError', new UsageError('--port must be a number'), 'ERR_USAGE'],
  ])('%s has a stable code and is an OllamaRingError', (name, err, code) => {
    expect(err.code).toBe(code);
    expect(err.name).toBe(name);
    expect(err).toBeInstanceOf(OllamaRingError);
    expect(err).toBeInstanceOf(Error);
  });
});

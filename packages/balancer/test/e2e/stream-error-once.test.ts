import { Route, streamErrorLine } from '@ollama-ring/protocol';
import { type BalancerError, InferenceRequest, type ResponseSink, UpstreamError } from '../../src';
import { eventually, inFlight, startHarness, type Harness } from './harness';

// The embedded pipeline, with a node that fails mid-stream: its final `{"error":…}` line reaches
// the caller once, whichever way the caller reads the response.

const MESSAGE = 'an error was encountered while running the model';
const placement = (process.env.OLLAMA_RING_TEST_PLACEMENT as 'inline' | 'workers' | undefined) ?? 'inline';

/**
 * A sink that writes the response as an HTTP gateway would, following the `ResponseSink` contract:
 * the chunks as they come; on an error after the start, the error as a last line, unless the error
 * says the node's own line already went out with the stream.
 */
function ndjsonWriter(): { sink: ResponseSink; ended: Promise<{ text: string; error?: BalancerError }> } {
  let text = '';
  const decoder = new TextDecoder();
  let done!: (r: { text: string; error?: BalancerError }) => void;
  const ended = new Promise<{ text: string; error?: BalancerError }>((r) => (done = r));
  const sink: ResponseSink = {
    onStart: () => undefined,
    onChunk: (chunk) => void (text += decoder.decode(chunk, { stream: true })),
    onEnd: () => done({ text }),
    onError: (error, started) => {
      const delivered = error instanceof UpstreamError && (error as UpstreamError & { inBand?: boolean }).inBand === true;
      if (started && !delivered) text += streamErrorLine('ollama', error.message);
      done({ text, error });
    },
  };
  return { sink, ended };
}

describe(`embedded pipeline: a stream that ends in an in-band error carries it once (dispatch ${placement})`, () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness([{ id: 'a', models: ['llama3.2'], preload: ['llama3.2'], responseTokens: { min: 40, max: 40 } }], (c) => {
      c.disruptor.dispatchPlacement = placement;
    });
  });
  afterEach(async () => {
    await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 10_000, 'in-flight back to 0');
    await h.close();
  });

  test('execute() with a sink that follows the contract: the error line once, last; the failure counts against the node', async () => {
    h.sim.node('a').setFaults({ errorMidStream: { afterTokens: 3, count: 1 } });
    const { sink, ended } = ndjsonWriter();
    const body = new TextEncoder().encode(JSON.stringify({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }] }));
    h.factory.getPipeline().execute({ route: Route.Chat, body }, sink);
    const { text, error } = await ended;
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    expect(lines.filter((l) => l.includes('"error"'))).toEqual([JSON.stringify({ error: MESSAGE })]);
    expect(lines[lines.length - 1]).toBe(JSON.stringify({ error: MESSAGE }));
    // Still an upstream error, reported to the caller and counted against the node.
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error?.message).toBe(MESSAGE);
    await eventually(() => h.factory.getNodeRegistry().getNode('a')?.failedRequests === 1, 10_000, 'the failure counted against a');
  });

  test('stream(): the chunks, then the error thrown once; the iterator is then done', async () => {
    h.sim.node('a').setFaults({ errorMidStream: { afterTokens: 3, count: 1 } });
    const it = h.factory.getPipeline().stream(InferenceRequest.ofChat('llama3.2', [{ role: 'user', content: 'hi' }]));
    let chunks = 0;
    let thrown: unknown;
    for (;;) {
      try {
        const r = await it.next();
        if (r.done) break;
        chunks++;
      } catch (e) {
        // A caller that handles the error and reads on must not be told it a second time.
        if (thrown !== undefined) throw new Error(`a second error after the first: ${(e as Error).message}`, { cause: e });
        thrown = e;
      }
    }
    expect(chunks).toBeGreaterThan(0);
    expect(thrown).toBeInstanceOf(UpstreamError);
    expect((thrown as Error).message).toBe(MESSAGE);
  });
});

// The one test here that runs the whole library path (PipelineFactory → scheduler → undici dispatch,
// inline and on worker threads) against a local fake node: a caller that leaves pipeline.stream()
// early, while more than the sink's high-water mark of chunks sits unread, must still free the slot.
// Before the fix, dispatch waited for ever in sink.drained(): the reader had gone, so the sink never
// drained, the abort could not reach the body loop, and the node's slot leaked.
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InferenceRequest, PipelineFactory } from '../src';

function fakeNode(): Promise<{ server: Server; url: string; closed: Promise<void> }> {
  let closedResolve!: () => void;
  const closed = new Promise<void>((r) => (closedResolve = r));
  const server = createServer((req, res) => {
    if (req.method === 'GET') {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/api/tags') return res.end(JSON.stringify({ models: [{ name: 'm:latest' }] }));
      if (req.url === '/api/ps') return res.end(JSON.stringify({ models: [] }));
      if (req.url === '/api/version') return res.end('{"version":"0.9.0"}');
      return res.end('Ollama is running');
    }
    req.resume();
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    // A burst far above the library sink's high-water mark (64 objects), then a slow trickle.
    res.write(Array.from({ length: 300 }, (_, i) => `{"response":"t${i}","done":false}\n`).join(''));
    const t = setInterval(() => res.write('{"response":"x","done":false}\n'), 50);
    res.on('close', () => {
      clearInterval(t);
      closedResolve();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, closed })));
}

type Pool = Awaited<ReturnType<ReturnType<typeof PipelineFactory.create>['start']>>;

/** A started pipeline over one fake node, with dispatch placed as asked; torn down whatever happens. */
async function withPool(placement: 'inline' | 'workers', body: (f: Pool, node: Awaited<ReturnType<typeof fakeNode>>) => Promise<void>): Promise<void> {
  const node = await fakeNode();
  const f = await PipelineFactory.create({ nodes: [{ id: 'n', url: node.url }], disruptor: { dispatchPlacement: placement } }, { env: {} }).start();
  try {
    await body(f, node);
  } finally {
    await f.stop(1_000);
    node.server.closeAllConnections();
    await new Promise((r) => node.server.close(r));
  }
}

/** Until the node's slot is free again (or 3 s). */
async function slotFreed(f: Pool, also: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline && (!also() || f.getNodeRegistry().getNode('n')!.inFlight > 0)) await new Promise((r) => setTimeout(r, 10));
}

test.each(['inline', 'workers'] as const)(
  'dispatch %s: leaving a stream early with many unread chunks aborts upstream and frees the slot',
  (placement) =>
    withPool(placement, async (f, node) => {
      for await (const chunk of f.getPipeline().stream(InferenceRequest.ofPrompt('m', 'hi'))) {
        expect(chunk.response).toBe('t0');
        await new Promise((r) => setTimeout(r, 200)); // a slow reader: the burst piles up unread
        break;
      }
      await node.closed; // the upstream request was aborted
      await slotFreed(f);
      expect(f.getNodeRegistry().getNode('n')!.inFlight).toBe(0);
      expect(f.getPoolView().live).toBe(0);
    }),
  15_000,
);

test.each(['inline', 'workers'] as const)(
  'dispatch %s: pipeline.cancel(id) mid-stream aborts upstream, ends the sink once with the reason, and frees the slot',
  (placement) =>
    withPool(placement, async (f, node) => {
      const errors: { code: string; started: boolean }[] = [];
      let chunks = 0;
      let firstChunk!: () => void;
      const streaming = new Promise<void>((r) => (firstChunk = r));
      const pipeline = f.getPipeline();
      const id = pipeline.execute(InferenceRequest.ofPrompt('m', 'hi'), {
        onStart: () => undefined,
        onChunk: () => {
          if (chunks++ === 0) firstChunk();
          return true;
        },
        onEnd: () => errors.push({ code: 'ended', started: true }),
        onError: (e, started) => errors.push({ code: e.code, started }),
      });
      await streaming;
      pipeline.cancel(id);
      await node.closed; // the upstream request was aborted
      await slotFreed(f, () => errors.length > 0);
      expect(errors).toEqual([{ code: 'ERR_ABORTED', started: true }]);
      expect(f.getNodeRegistry().getNode('n')!.inFlight).toBe(0);
      expect(f.getPoolView().live).toBe(0);
      pipeline.cancel(id); // after the end: nothing happens
      await new Promise((r) => setTimeout(r, 20));
      expect(errors).toHaveLength(1);
    }),
  15_000,
);

import { inFlight } from '../../balancer/test/e2e/harness';
import { startGateway } from './gateway-harness';

// Design, step 5: completion frees the slot, then ends the client's response. A client that has
// its whole answer may send its next request at once; it must not find its last one still in
// flight. With the node's Content-Length kept, the last body byte is what tells the client the
// response is over, so that byte must not leave before the completion has run.
describe.each(['inline', 'workers'] as const)('dispatch %s: a client that has its whole response', (placement) => {
  test.each([
    ['non-streamed (Content-Length kept)', false],
    ['streamed (chunked)', true],
  ])(
    '%s finds its slot already freed',
    async (_label, stream) => {
      const h = await startGateway([{ id: 'a', numParallel: 1, models: ['llama3.2'] }], (c) => {
        c.disruptor.dispatchPlacement = placement;
      });
      try {
        const seen: string[] = [];
        for (let i = 0; i < 80; i++) {
          const res = await fetch(`${h.url}/api/generate`, {
            method: 'POST',
            body: JSON.stringify({ model: 'llama3.2', prompt: 'hi', stream, options: { num_predict: 2 } }),
          });
          const body = await res.text();
          // Read synchronously, before anything else of the gateway's can run.
          seen.push(`inFlight=${inFlight(h).a} live=${h.factory.getPoolView().live}`);
          expect(res.status).toBe(200);
          if (!stream) expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(body)));
        }
        expect(seen).toEqual(Array(80).fill('inFlight=0 live=0'));
      } finally {
        await h.close();
      }
    },
    60_000,
  );
});

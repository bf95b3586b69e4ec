// Regressions the JSON fuzz found: client JSON nested thousands deep made admin routes answer 500
// (RangeError: Maximum call stack size exceeded) where a 400 was due. Each case stays here, exact,
// so that it fails on its own if it comes back, whatever the fuzzer's seed. The depth is just under
// the front's own limit (10,000 levels, Ollama's: deeper is refused before any route reads it), so
// that each route's own reading of the value is what is tested.
import { allRoutes } from '../../src';
import { startGateway, type GatewayHarness } from '../gateway-harness';

const deepArray = (n: number): string => `${'['.repeat(n)}1${']'.repeat(n)}`;
const deepObject = (n: number): string => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
const DEEP = 9_990;

describe('admin routes: JSON nested thousands deep is a 400, not a 500', () => {
  let g: GatewayHarness;
  beforeAll(async () => {
    // No admin token: loopback clients are admins.
    g = await startGateway([{ id: 'a', models: ['llama3.2'] }], () => undefined, { routes: allRoutes });
  });
  afterAll(() => g.close());

  const post = async (path: string, body: string): Promise<[number, string]> => {
    const res = await fetch(`${g.url}${path}`, { method: 'POST', body });
    return [res.status, ((await res.json()) as { error: string }).error];
  };

  test('POST /api/copy with a source that is not a string', async () => {
    expect(await post('/api/copy', `{"source":${deepArray(DEEP)},"destination":"y"}`)).toEqual([400, "field 'source' must be a string (got array)"]);
    expect(await post('/api/copy', `{"source":"llama3.2","destination":${deepObject(DEEP)}}`)).toEqual([400, "field 'destination' must be a string (got object)"]);
  });

  test('POST /admin/nodes with a deep id or tags', async () => {
    const [s1, e1] = await post('/admin/nodes', `{"id":${deepObject(DEEP)},"url":"http://127.0.0.1:9"}`);
    expect([s1, e1]).toEqual([400, expect.stringMatching(/^invalid node: id: must be string/)]);
    const [s2, e2] = await post('/admin/nodes', `{"id":"b","url":"http://127.0.0.1:9","tags":${deepArray(DEEP)}}`);
    expect([s2, e2]).toEqual([400, expect.stringMatching(/^invalid node: tags\.0: must be string \(got \[\[\[/)]);
    expect(
      g.factory
        .getNodeRegistry()
        .getAllNodes()
        .map((n) => n.id),
    ).toEqual(['a']);
  });
});

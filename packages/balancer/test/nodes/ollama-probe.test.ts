import { OllamaRingError } from '@ollama-ring/protocol';
import { OllamaProbe, ProbeError, toProbeError, type HealthPath } from '../../src/nodes/ollama-probe';
import { FakeOllama, closedPort, type Fault } from './fake-ollama';

let node: FakeOllama;
let probe: OllamaProbe;
const target = () => ({ id: 'n1', url: node.url });
// Paths that must succeed get a generous deadline: the first request of a suite on a loaded CI
// machine (JIT, parallel workers) can take longer than the short deadline the timeout cases use.
const GENEROUS_MS = 3000;
const SHORT_MS = 300;

beforeEach(async () => {
  node = await FakeOllama.start();
  probe = new OllamaProbe({ timeoutMs: GENEROUS_MS });
});
afterEach(async () => {
  await probe.close();
  await node.close();
});

describe('OllamaProbe.checkHealth', () => {
  it.each([
    ['/api/version', { version: '0.12.6' }],
    ['/', {}],
  ] as Array<[HealthPath, object]>)('succeeds via %s', async (healthPath, extra) => {
    const p = new OllamaProbe({ timeoutMs: GENEROUS_MS, healthPath });
    try {
      const r = await p.checkHealth(target());
      expect(r).toMatchObject({ nodeId: 'n1', ok: true, ...extra });
      expect(r.error).toBeUndefined();
      expect(r.latencyMs).toBeGreaterThan(0);
      expect(Math.abs(r.checkedAt - Date.now())).toBeLessThan(1000);
      expect(node.requests).toEqual([expect.objectContaining({ method: 'GET', path: healthPath })]);
    } finally {
      await p.close();
    }
  });

  it.each([
    // [health path, fault on it, expected kind, message fragment]
    ['/api/version', '500', 'http', 'HTTP 500: something went wrong'],
    ['/api/version', 'malformed', 'malformed', 'invalid JSON'],
    ['/api/version', 'wrong-text', 'malformed', 'invalid JSON'],
    ['/api/version', 'hang', 'timeout', 'GET /api/version: '],
    ['/', 'wrong-text', 'malformed', 'not "Ollama is running"'],
    ['/', '500', 'http', 'HTTP 500'],
    ['/', 'hang', 'timeout', 'GET /: '],
  ] as Array<[HealthPath, Fault, string, string]>)('%s answering %s fails as %s', async (healthPath, fault, kind, msg) => {
    node.faults.set(healthPath, fault);
    const p = new OllamaProbe({ timeoutMs: SHORT_MS, healthPath });
    try {
      const t0 = Date.now();
      const r = await p.checkHealth(target());
      expect(r).toMatchObject({ ok: false, errorKind: kind });
      expect(r.error).toContain(msg);
      expect(Date.now() - t0).toBeLessThan(2000);
    } finally {
      await p.close();
    }
  });

  it('reports a closed port as refused, fast', async () => {
    const port = await closedPort();
    for (const host of ['127.0.0.1', 'localhost']) {
      const r = await probe.checkHealth({ id: 'down', url: `http://${host}:${port}` });
      expect(r).toMatchObject({ nodeId: 'down', ok: false, errorKind: 'refused' });
      expect(r.latencyMs).toBeLessThan(250);
    }
  });

  it('reports an abort by the caller as aborted', async () => {
    node.faults.set('/api/version', 'hang');
    const ac = new AbortController();
    const pending = probe.checkHealth(target(), ac.signal);
    await node.waitFor('/api/version');
    ac.abort();
    expect(await pending).toMatchObject({ ok: false, errorKind: 'aborted' });
  });
});

describe('OllamaProbe.getJson / getText', () => {
  it('keeps a path prefix and turns URL credentials into basic auth', async () => {
    const r = await probe.getText({ id: 'n1', url: `${node.url.replace('http://', 'http://user:p%40ss@')}/` }, '/api/version');
    expect(JSON.parse(r)).toEqual({ version: '0.12.6' });
    expect(node.requests[0].headers.authorization).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`);
    node.requests.length = 0;
    await expect(probe.getText({ id: 'n1', url: `${node.url}/ollama/` }, '/api/ps')).rejects.toMatchObject({ kind: 'http', status: 404 });
    expect(node.requests[0].path).toBe('/ollama/api/ps');
  });

  it('refuses a body over the cap', async () => {
    node.faults.set('/api/tags', 'huge');
    const p = new OllamaProbe({ timeoutMs: GENEROUS_MS, maxBodyBytes: 1024 });
    try {
      await expect(p.getJson(target(), '/api/tags')).rejects.toMatchObject({ kind: 'malformed', message: expect.stringContaining('larger than 1024') });
    } finally {
      await p.close();
    }
  });

  it('a slow answer inside the deadline is fine', async () => {
    node.faults.set('/api/ps', { delayMs: 100 });
    await expect(probe.getJson(target(), '/api/ps')).resolves.toHaveProperty('models');
  });
});

describe('toProbeError', () => {
  const withCode = (code: string) => Object.assign(new Error('x'), { code });
  it.each([
    [withCode('ECONNREFUSED'), 'refused'],
    // A host that cannot be reached is as down as one that refuses (dispatch has always said so).
    [withCode('EHOSTUNREACH'), 'refused'],
    [withCode('ETIMEDOUT'), 'timeout'],
    [new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')]), 'refused'],
    [withCode('UND_ERR_HEADERS_TIMEOUT'), 'timeout'],
    [withCode('UND_ERR_BODY_TIMEOUT'), 'timeout'],
    [withCode('UND_ERR_CONNECT_TIMEOUT'), 'timeout'],
    [withCode('UND_ERR_ABORTED'), 'aborted'],
    [withCode('ECONNRESET'), 'network'],
    [Object.assign(new Error('wrapped'), { cause: withCode('ECONNREFUSED') }), 'refused'],
    ['a string', 'network'],
    [new ProbeError('http', 'kept', 502), 'http'],
  ])('classifies %p as %s', (e, kind) => {
    expect(toProbeError(e).kind).toBe(kind);
  });
});

describe('ProbeError', () => {
  it('has a stable code and is a product error', () => {
    const e = new ProbeError('timeout', 'GET /: no answer');
    expect(e.code).toBe('ERR_PROBE');
    expect(e.name).toBe('ProbeError');
    expect(e).toBeInstanceOf(OllamaRingError);
  });
});

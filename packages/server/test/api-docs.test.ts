import SwaggerParser from '@apidevtools/swagger-parser';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { request } from 'undici';
import { allRoutes, ApiDocError, documentedRoutes, openApiDocument, Router } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

type Doc = { openapi: string; paths: Record<string, Record<string, { security: unknown[]; responses: Record<string, unknown> }>> };

/** (METHOD, pattern) pairs, as `Router.list()` and the document both can be read. */
const pairs = (routes: { methods: readonly string[]; pattern: string }[]): string[] => routes.flatMap((r) => r.methods.map((m) => `${m} ${r.pattern}`)).sort();
const docPairs = (doc: Doc): string[] =>
  Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`))
    .sort();

describe('the API document', () => {
  let g: GatewayHarness;
  beforeAll(async () => {
    g = await startGateway([{ id: 'a', models: ['llama3.2'] }], (c) => (c.auth.apiKeys = [{ key: 'k1' }]), { routes: allRoutes });
  });
  afterAll(() => g.close());

  test('is valid OpenAPI 3.1 and lists exactly what the router serves, method by method', async () => {
    const res = await fetch(`${g.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const doc = (await res.json()) as Doc;
    expect(doc.openapi).toBe('3.1.0');
    // The validator resolves $refs in place: give it a copy.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
    const served = pairs(g.gateway.router.list());
    expect(served).toContain('POST /api/chat');
    expect(served).toContain('GET /openapi.json');
    expect(docPairs(doc)).toEqual(served);
  });

  test('documents no route the gateway does not serve', () => {
    const served = new Set(pairs(g.gateway.router.list()));
    const stale = documentedRoutes().filter((r) => !served.has(`${r.method} ${r.pattern}`));
    expect(stale).toEqual([]);
  });

  test('a route added without its entry in the document is an error, not a silent gap', () => {
    const router = new Router();
    router.add('GET', '/health', () => undefined);
    expect(() => openApiDocument(router.list(), '1')).not.toThrow();
    router.add(['GET', 'PUT'], '/api/unknown/:id', () => undefined);
    expect(() => openApiDocument(router.list(), '1')).toThrow(ApiDocError);
    expect(() => openApiDocument(router.list(), '1')).toThrow(/GET \/api\/unknown\/:id, PUT \/api\/unknown\/:id/);
  });

  test('the validator rejects a broken document (so the test above can fail)', async () => {
    const doc = openApiDocument(g.gateway.router.list(), '1') as Doc;
    (doc.paths['/health'].get as { responses: unknown }).responses = 'none';
    await expect(SwaggerParser.validate(doc as never)).rejects.toThrow();
  });

  test('says who may call what: API keys on the client routes, the admin token on admin ones, nothing on probes and docs', async () => {
    const doc = (await (await fetch(`${g.url}/openapi.json`)).json()) as Doc;
    expect(doc.paths['/api/chat'].post.security).toEqual([{ apiKey: [] }, { apiKeyHeader: [] }, {}]);
    expect(doc.paths['/admin/nodes'].get.security).toEqual([{ adminToken: [] }, {}]);
    for (const p of ['/health', '/metrics', '/openapi.json', '/docs']) expect(doc.paths[p].get.security).toEqual([]);
    expect(Object.keys(doc.paths['/api/stats'].get.responses)).toContain('401');
    // And the gateway does as documented: with keys configured, the docs need none, the stats do.
    expect((await fetch(`${g.url}/api/stats`)).status).toBe(401);
    expect((await fetch(`${g.url}/openapi.json`)).status).toBe(200);
    expect((await fetch(`${g.url}/docs`)).status).toBe(200);
  });

  test('is revalidated by ETag: 304 when unchanged', async () => {
    const first = await fetch(`${g.url}/openapi.json`);
    await first.arrayBuffer();
    const etag = first.headers.get('etag') as string;
    expect(first.headers.get('cache-control')).toBe('no-cache');
    const again = await fetch(`${g.url}/openapi.json`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
  });
});

describe('/docs', () => {
  let g: GatewayHarness;
  beforeAll(async () => {
    g = await startGateway([{ id: 'a', models: ['llama3.2'] }], undefined, { routes: allRoutes });
  });
  afterAll(() => g.close());

  const uiDir = dirname(require.resolve('swagger-ui-dist/package.json'));
  const types: Record<string, string> = { css: 'text/css; charset=utf-8', js: 'text/javascript; charset=utf-8', png: 'image/png' };

  test('serves the page and every file it uses from the gateway itself, with their content types and caching', async () => {
    for (const path of ['/docs', '/docs/']) {
      const res = await request(`${g.url}${path}`);
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['content-security-policy']).toMatch(/default-src 'self'/);
      const html = await res.body.text();
      // Every script, style and icon is relative: none is fetched from anywhere else.
      const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
      expect(refs.length).toBeGreaterThanOrEqual(4);
      expect(refs.some((r) => r.endsWith('swagger-ui-bundle.js'))).toBe(true);
      for (const r of refs) {
        expect(r).not.toMatch(/^(https?:)?\/\//);
        const url = new URL(r, `${g.url}${path}`);
        const a = await request(url);
        const body = Buffer.from(await a.body.arrayBuffer());
        expect([url.pathname, a.statusCode]).toEqual([url.pathname, 200]);
        expect(a.headers['content-type']).toBe(types[r.split('.').pop() as string]);
        expect(a.headers['cache-control']).toBe('public, max-age=86400');
        expect(a.headers['x-content-type-options']).toBe('nosniff');
        const name = url.pathname.split('/').pop() as string;
        if (name !== 'init.js') expect(body.equals(readFileSync(join(uiDir, name)))).toBe(true);
        else expect(body.toString()).toMatch(/openapi\.json/);
      }
    }
  });

  test('sends text gzipped to clients that accept it, and 304 for a current copy', async () => {
    const res = await request(`${g.url}/docs/swagger-ui-bundle.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.headers['content-encoding']).toBe('gzip');
    const body = gunzipSync(Buffer.from(await res.body.arrayBuffer()));
    expect(body.equals(readFileSync(join(uiDir, 'swagger-ui-bundle.js')))).toBe(true);
    const again = await request(`${g.url}/docs/swagger-ui-bundle.js`, { headers: { 'if-none-match': res.headers.etag as string } });
    await again.body.dump();
    expect(again.statusCode).toBe(304);
  });

  test('knows only its own files', async () => {
    for (const name of ['package.json', 'index.html', 'swagger-initializer.js', '..%2Fpackage.json', 'nope.css']) {
      const res = await request(`${g.url}/docs/${name}`);
      await res.body.dump();
      expect([name, res.statusCode]).toEqual([name, 404]);
    }
  });
});

/**
 * HTTPS on the gateway's listener: the unchanged official clients over TLS with the test CA, client
 * certificates required when `server.tls.ca` is set, and a certificate replaced on disk served to new
 * connections while a stream on an old connection runs to its end.
 */
import { renameSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';
import { ConfigError, defaultConfig } from '@ollama-ring/balancer';
import { startGateway, type GatewayHarness } from '../gateway-harness';
import { eventually } from '../../../balancer/test/e2e/harness';
import { Gateway } from '../../src';
import { certDir, fingerprintOf, makeCa, type CertFiles, type TestCa } from './certs';

/** A `fetch` that trusts `ca` (and presents `client`), for the clients' `fetch` option. */
function fetchWith(ca: string, client?: CertFiles): { fetch: typeof fetch; agent: Agent } {
  const agent = new Agent({ connect: { ca: readFileSync(ca, 'utf8'), ...(client && { cert: readFileSync(client.cert, 'utf8'), key: readFileSync(client.key, 'utf8') }) } });
  // undici's fetch is the one Node ships, with its own types: the same call signature.
  const f = ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher: agent })) as unknown as typeof fetch;
  return { fetch: f, agent };
}

/** The fingerprint of the certificate a new TLS connection to `port` is served. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca: readFileSync(ca), servername: 'localhost' }, () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

describe('server.tls: HTTPS on the gateway', () => {
  const tmp = certDir();
  let ca: TestCa;
  let server: CertFiles;
  let g: GatewayHarness;
  beforeAll(async () => {
    ca = makeCa(tmp.dir);
    server = ca.issue('gateway');
    g = await startGateway([{ id: 'a', models: ['llama3.2', 'nomic-embed-text'], numParallel: 2, tokensPerSec: 0.5, responseTokens: { min: 60, max: 60 } }], (c) => {
      c.server.tls = { cert: server.cert, key: server.key };
    });
  });
  afterAll(async () => {
    await g.close();
    tmp.cleanup();
  });

  test('the ollama and openai clients, unchanged but for a fetch that trusts the CA, talk to the gateway over HTTPS', async () => {
    expect(g.url).toMatch(/^https:\/\//);
    const { fetch, agent } = fetchWith(ca.cert);
    try {
      const ollama = new Ollama({ host: g.url, fetch });
      const gen = await ollama.generate({ model: 'llama3.2', prompt: 'hi', stream: false, options: { num_predict: 1 } });
      expect(gen.response?.length).toBeGreaterThan(0);
      const openai = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'unused', fetch, maxRetries: 0 });
      const r = await openai.chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 });
      expect(r.choices[0].message.content?.length).toBeGreaterThan(0);
    } finally {
      await agent.close();
    }
  });

  test('a client that does not trust the CA is refused by its own TLS check, and plain HTTP gets no answer', async () => {
    await expect(undiciFetch(`${g.url}/api/version`)).rejects.toThrow();
    await expect(undiciFetch(g.url.replace('https:', 'http:') + '/api/version')).rejects.toThrow();
  });

  test('a certificate replaced on disk is served to new connections while an open stream continues to its end', async () => {
    const port = g.gateway.address()!.port;
    const before = await servedFingerprint(port, ca.cert);
    expect(before).toBe(fingerprintOf(readFileSync(server.cert)));
    // A stream of 60 tokens at 0.5 tokens/s (simulated), about 2.4 s at the harness's time scale.
    const chunks: string[] = [];
    let streamEnded = false;
    let streamFp = '';
    const ended = new Promise<void>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port, path: '/api/generate', method: 'POST', ca: readFileSync(ca.cert), servername: 'localhost', headers: { 'content-type': 'application/json' } },
        (res) => {
          streamFp = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256;
          res.setEncoding('utf8');
          res.on('data', (d: string) => chunks.push(d));
          res.on('end', () => {
            streamEnded = true;
            resolve();
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'llama3.2', prompt: 'tell me a long story' }));
    });
    await eventually(() => chunks.length > 0, 5_000, 'the first chunk');
    // Renewed as certbot does: new files written beside, then renamed over the old ones.
    const next = ca.issue('gateway-renewed');
    renameSync(next.key, server.key);
    renameSync(next.cert, server.cert);
    const renewed = fingerprintOf(readFileSync(server.cert));
    expect(renewed).not.toBe(before);
    let served = before;
    const deadline = Date.now() + 5_000;
    while (served !== renewed && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      served = await servedFingerprint(port, ca.cert);
    }
    expect(served).toBe(renewed);
    // The new certificate is served while the stream, on its connection of before, still runs.
    expect(streamEnded).toBe(false);
    await ended;
    expect(streamFp).toBe(before);
    const lines = chunks
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { done: boolean; eval_count?: number });
    expect(lines.at(-1)).toMatchObject({ done: true, eval_count: 60 });
    expect(lines.length).toBe(61);
  });
});

describe('server.tls.ca: client certificates (mTLS)', () => {
  const tmp = certDir();
  let ca: TestCa;
  let g: GatewayHarness;
  beforeAll(async () => {
    ca = makeCa(tmp.dir);
    const server = ca.issue('gateway');
    g = await startGateway([{ id: 'a', models: ['llama3.2'], numParallel: 1 }], (c) => {
      c.server.tls = { cert: server.cert, key: server.key, ca: ca.cert };
    });
  });
  afterAll(async () => {
    await g.close();
    tmp.cleanup();
  });

  test('a client with a certificate the CA signed is served; one without any is refused', async () => {
    const withCert = fetchWith(ca.cert, ca.issue('client'));
    const without = fetchWith(ca.cert);
    try {
      const ollama = new Ollama({ host: g.url, fetch: withCert.fetch });
      expect((await ollama.generate({ model: 'llama3.2', prompt: 'hi', stream: false, options: { num_predict: 2 } })).done).toBe(true);
      await expect(new Ollama({ host: g.url, fetch: without.fetch }).generate({ model: 'llama3.2', prompt: 'hi', stream: false })).rejects.toThrow();
    } finally {
      await Promise.all([withCert.agent.close(), without.agent.close()]);
    }
  });

  test('a client certificate from another CA is refused', async () => {
    const other = makeCa(tmp.dir, 'other-ca').issue('stranger');
    const f = fetchWith(ca.cert, other);
    try {
      await expect(f.fetch(`${g.url}/api/version`)).rejects.toThrow();
    } finally {
      await f.agent.close();
    }
  });
});

describe('server.tls files that cannot be used', () => {
  test("a key that is not the certificate's stops the gateway with an error naming server.tls", () => {
    const tmp = certDir();
    try {
      const ca = makeCa(tmp.dir);
      const a = ca.issue('a');
      const b = ca.issue('b');
      const cfg = defaultConfig();
      cfg.server.tls = { cert: a.cert, key: b.key };
      const factory = { getConfig: () => cfg } as unknown as ConstructorParameters<typeof Gateway>[0]['factory'];
      expect(() => new Gateway({ factory })).toThrow(ConfigError);
      expect(() => new Gateway({ factory })).toThrow(/server\.tls/);
      cfg.server.tls = { cert: join(tmp.dir, 'missing.pem'), key: b.key };
      expect(() => new Gateway({ factory })).toThrow(/server\.tls\.cert: cannot read .*missing\.pem \(ENOENT\)/);
    } finally {
      tmp.cleanup();
    }
  });
});

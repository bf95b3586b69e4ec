import { loadConfig, parseConfig, resolveConfig } from '../../src/config';
import { issuesOf, tempDir } from './helpers';

// Placeholders with the PEM markers the loader checks for; the handshakes are tested with real
// certificates made at test time (packages/server/test/tls/).
const CERT = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';

describe('TLS keys of the config', () => {
  const tmp = tempDir('ollama-ring-tls-config-');
  const cert = tmp.write('cert.pem', CERT);
  const key = tmp.write('key.pem', KEY);
  const ca = tmp.write('ca.pem', CERT);
  afterAll(() => tmp.remove());

  test('server.tls, upstreamTls and nodes[].tls load; the pool-wide files go to each https node under its own', () => {
    const { config, warnings } = resolveConfig({
      server: { tls: { cert, key, ca } },
      upstreamTls: { ca, cert, key },
      nodes: [
        { id: 'a', url: 'https://a:11434' },
        { id: 'b', url: 'https://b:11434', tls: { ca: cert } },
        { id: 'c', url: 'http://c:11434' },
      ],
    });
    expect(warnings).toEqual([]);
    expect(config.server.tls).toEqual({ cert, key, ca });
    expect(config.nodes.map((n) => n.tls)).toEqual([{ ca, cert, key }, { ca: cert, cert, key }, undefined]);
  });

  test('a missing file, a file that holds no PEM, and a certificate without its key are errors naming the key and line', () => {
    const text = [
      'server:',
      '  tls:',
      `    cert: ${tmp.dir}/missing.pem`,
      `    key: ${key}`,
      'upstreamTls:',
      `  cert: ${cert}`,
      'nodes:',
      '  - url: https://a:11434',
      '    tls:',
      `      ca: ${key}`,
      '',
    ].join('\n');
    const file = tmp.write('bad.yaml', text);
    const issues = issuesOf(() => loadConfig(file, { env: {} }));
    expect(issues).toEqual([{ path: 'upstreamTls.key', message: 'is required with upstreamTls.cert', file, line: 5 }]);
    const fixed = tmp.write('bad2.yaml', text.replace(`  cert: ${cert}`, `  cert: ${cert}\n  key: ${key}`));
    expect(issuesOf(() => loadConfig(fixed, { env: {} }))).toEqual([
      { path: 'server.tls.cert', message: `cannot read ${tmp.dir}/missing.pem (ENOENT)`, file: fixed, line: 3 },
      { path: 'nodes[0].tls.ca', message: `${key} holds no PEM certificate`, file: fixed, line: 11 },
    ]);
  });

  test('server.tls needs both cert and key; tls on an http node is a warning', () => {
    expect(issuesOf(() => parseConfig('server:\n  tls:\n    cert: x.pem\n', 's.yaml'))).toEqual([{ path: 'server.tls.key', message: 'is required', file: 's.yaml', line: 2 }]);
    const { warnings } = resolveConfig({ nodes: [{ url: 'http://a:11434', tls: { ca } }] });
    expect(warnings).toEqual(['nodes[0].tls: ignored: the node URL is http://, not https://']);
  });
});

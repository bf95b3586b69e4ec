import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { ConfigError, loadConfig, nodeUrlParts, parseNodesEnv, redactCredentials } from '../../src';

describe('redactCredentials', () => {
  test.each([
    ['http://ring:s3cret@10.0.0.5:11434', 'http://ring:***@10.0.0.5:11434'],
    ['https://ring:p%40ss@gw.example/ollama/', 'https://ring:***@gw.example/ollama/'],
    // The WHATWG parser takes the last '@' of the authority: the password is 'p@ss'.
    ['http://ring:p@ss@gw:80/x@y', 'http://ring:***@gw:80/x@y'],
    ['http://token@gw', 'http://***@gw'],
    ['http://ring:@gw', 'http://ring:***@gw'],
    ['http://10.0.0.5:11434', 'http://10.0.0.5:11434'],
    ['http://gw/path/user@example', 'http://gw/path/user@example'],
    ['', ''],
  ])('%s is shown as %s', (url, shown) => {
    expect(redactCredentials(url)).toBe(shown);
  });

  test('masks every URL in a message, leaves the rest, and is idempotent', () => {
    const text = 'nodes[0].url: bad (got "ftp://a:one@x"); nodes[1]: http://b:two@y/p and mail me@example.com';
    const once = redactCredentials(text);
    expect(once).toBe('nodes[0].url: bad (got "ftp://a:***@x"); nodes[1]: http://b:***@y/p and mail me@example.com');
    expect(redactCredentials(once)).toBe(once);
  });
});

describe('nodeUrlParts', () => {
  test('splits origin, path prefix and a basic-auth header from percent-decoded credentials', () => {
    const p = nodeUrlParts('http://ring:p%40ss@gw:8080/ollama/?x=1#f');
    expect(p).toEqual({
      origin: 'http://gw:8080',
      basePath: '/ollama',
      headers: { authorization: `Basic ${Buffer.from('ring:p@ss').toString('base64')}` },
      shown: 'http://ring:***@gw:8080/ollama/?x=1#f',
    });
    expect(Object.isFrozen(p.headers)).toBe(true);
  });

  test('a URL without credentials or prefix has no headers and an empty base path', () => {
    expect(nodeUrlParts('http://10.0.0.5:11434')).toEqual({ origin: 'http://10.0.0.5:11434', basePath: '', headers: {}, shown: 'http://10.0.0.5:11434' });
  });

  test('a malformed escape is sent as written rather than failing', () => {
    expect(nodeUrlParts('http://u:%zz@h').headers.authorization).toBe(`Basic ${Buffer.from('u:%zz').toString('base64')}`);
  });

  test('undici sends the header it gives (it would drop the credentials of the URL itself)', async () => {
    const seen: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.end(req.url);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://ring:p%40ss@127.0.0.1:${(server.address() as AddressInfo).port}/ollama/`;
      const { origin, basePath, headers } = nodeUrlParts(url);
      const res = await request(`${origin}${basePath}/api/tags`, { headers });
      expect(await res.body.text()).toBe('/ollama/api/tags');
      expect(seen).toEqual([`Basic ${Buffer.from('ring:p@ss').toString('base64')}`]);
    } finally {
      server.close();
    }
  });
});

describe('config errors never quote a password', () => {
  test('a bad node URL in a config object', () => {
    expect(() => loadConfig({ nodes: [{ url: 'ftp://ring:s3cret@x/' }] }, { env: {} })).toThrow(ConfigError);
    try {
      loadConfig({ nodes: [{ url: 'ftp://ring:s3cret@x/' }] }, { env: {} });
    } catch (e) {
      const err = e as ConfigError;
      expect(err.message).toContain('ftp://ring:***@x/');
      expect(JSON.stringify({ message: err.message, issues: err.issues })).not.toContain('s3cret');
    }
  });

  test('a bad entry of OLLAMA_RING_NODES', () => {
    expect(() => parseNodesEnv('gpu=ftp://ring:s3cret@x', 'OLLAMA_RING_NODES')).toThrow(/ftp:\/\/ring:\*\*\*@x/);
    expect(() => parseNodesEnv('gpu=ftp://ring:s3cret@x', 'OLLAMA_RING_NODES')).not.toThrow(/s3cret/);
  });
});

import { loadConfig, parseHostsFile, parseNodeEntry, parseNodeList, parseNodesEnv } from '../../src/config';
import { issuesOf, tempDir } from './helpers';

const brief = (nodes: { id: string; url: string; maxConcurrentRequests: number }[]) => nodes.map((n) => `${n.id} ${n.url} ${n.maxConcurrentRequests}`);

describe('node entries: [id=]target[*slots]', () => {
  const GOOD: Array<[string, object]> = [
    ['10.0.0.2:11434', { url: 'http://10.0.0.2:11434' }],
    ['gpu.local', { url: 'http://gpu.local:11434' }],
    ['http://gpu.local', { url: 'http://gpu.local' }],
    ['https://ollama.example.com:8443/base', { url: 'https://ollama.example.com:8443/base' }],
    ['a=10.0.0.2:11434*3', { id: 'a', url: 'http://10.0.0.2:11434', maxConcurrentRequests: 3 }],
    ['b=http://h:1 * 2', { id: 'b', url: 'http://h:1', maxConcurrentRequests: 2 }],
    ['[::1]:11434', { url: 'http://[::1]:11434' }],
    ['http://h:1/?x=y', { url: 'http://h:1/?x=y' }],
  ];
  test.each(GOOD)('%s', (text, want) => expect(parseNodeEntry(text)).toEqual(want));

  const BAD: Array<[string, RegExp]> = [
    ['', /empty/],
    ['host:1*0', /bad slot count/],
    ['host:1*', /bad slot count/],
    ['host:1*x', /bad slot count/],
    ['ftp://host:1', /not a valid http/],
    ['host:99999', /not a valid http/],
    ['two words', /whitespace/],
    ['a/b=host:1', /expected host:port/],
    ['host:port', /expected host:port/],
  ];
  test.each(BAD)('%j is rejected', (text, msg) => expect(() => parseNodeEntry(text)).toThrow(msg));
  test('a bad entry is a ConfigError', () => expect(() => parseNodeEntry('a b')).toThrow(expect.objectContaining({ code: 'ERR_CONFIG' })));
});

describe('hosts.txt (seed 004)', () => {
  test('host:port lines, comments, blank lines, http:// prefix and *slots', () => {
    const text = ['# config/hosts.txt', '127.0.0.1:11434', '', '10.0.0.2:11434   # the big one', 'http://10.0.0.3:11434*2', '  gpu=10.0.0.4  ', ''].join('\n');
    expect(brief(parseHostsFile(text, 'hosts.txt'))).toEqual([
      '127.0.0.1:11434 http://127.0.0.1:11434 4',
      '10.0.0.2:11434 http://10.0.0.2:11434 4',
      '10.0.0.3:11434 http://10.0.0.3:11434 2',
      'gpu http://10.0.0.4:11434 4',
    ]);
  });

  test('CRLF line endings', () => {
    expect(parseHostsFile('a:1\r\nb:2\r\n').map((n) => n.url)).toEqual(['http://a:1', 'http://b:2']);
  });

  test('every bad line is reported with its line number', () => {
    const text = ['# pool', 'good:11434', 'bad host', '', 'other:1*zero', 'x=a:1', 'x=b:1'].join('\n');
    const issues = issuesOf(() => parseHostsFile(text, 'hosts.txt'));
    expect(issues.map((i) => [i.line, i.file, i.message])).toEqual([
      [3, 'hosts.txt', expect.stringMatching(/whitespace/)],
      [5, 'hosts.txt', expect.stringMatching(/bad slot count/)],
      [7, 'hosts.txt', expect.stringMatching(/duplicate node id "x"/)],
    ]);
  });

  test('loadConfig on a .txt file loads it as the node list, defaults for the rest', () => {
    const t = tempDir();
    try {
      const file = t.write('hosts.txt', '10.0.0.2:11434\n10.0.0.3:11434*8\n');
      const r = loadConfig(file, { env: {} });
      expect(r.source).toMatchObject({ kind: 'file', format: 'hosts' });
      expect(brief(r.config.nodes)).toEqual(['10.0.0.2:11434 http://10.0.0.2:11434 4', '10.0.0.3:11434 http://10.0.0.3:11434 8']);
      expect(r.config.strategy.type).toBe('predictive');
      const bad = t.write('bad.txt', 'ok:1\nnot ok\n');
      expect(issuesOf(() => loadConfig(bad, { env: {} }))).toEqual([{ path: 'nodes[1]', message: expect.any(String), file: bad, line: 2 }]);
    } finally {
      t.remove();
    }
  });
});

describe('OLLAMA_RING_NODES', () => {
  test('comma- or whitespace-separated entries, id and *slots optional', () => {
    const nodes = parseNodesEnv('a=http://10.0.0.5:11434*2, 10.0.0.6 ,\n gpu=https://g:443*16');
    expect(brief(nodes)).toEqual(['a http://10.0.0.5:11434 2', '10.0.0.6:11434 http://10.0.0.6:11434 4', 'gpu https://g:443 16']);
  });

  test('bad entries name the variable and the entry', () => {
    const issues = issuesOf(() => parseNodesEnv('a:1,b:1*-3,c:1'));
    expect(issues).toEqual([{ path: 'nodes[1]', message: expect.stringMatching(/bad slot count/), file: 'env:OLLAMA_RING_NODES' }]);
  });
});

describe('a list of {url, max_concurrent} (seed 000)', () => {
  test('JSON text', () => {
    const nodes = parseNodeList('[{"url": "http://localhost:11434", "max_concurrent": 1}, {"url": "http://server3:11434", "max_concurrent": 2}]');
    expect(brief(nodes)).toEqual(['localhost:11434 http://localhost:11434 1', 'server3:11434 http://server3:11434 2']);
  });

  test('YAML text, with our own keys mixed in', () => {
    const nodes = parseNodeList('- url: http://a:11434\n  max_concurrent: 3\n- { id: b, url: "http://b:11434", maxConcurrentRequests: 5, tags: [gpu] }\n');
    expect(brief(nodes)).toEqual(['a:11434 http://a:11434 3', 'b http://b:11434 5']);
    expect(nodes[1].tags).toEqual(['gpu']);
  });

  test('the Python assignment form', () => {
    const text = 'OLLAMA_SERVERS = [\n  {"url": "http://cpu:11434", "max_concurrent": 1},  # fallback\n]\n';
    expect(brief(parseNodeList(text, 'config.py'))).toEqual(['cpu:11434 http://cpu:11434 1']);
  });

  test('an already-parsed array', () => {
    expect(parseNodeList([{ url: 'http://a:1', max_concurrent: 2 }])[0].maxConcurrentRequests).toBe(2);
  });

  test('bad items name the index and the line', () => {
    const text = ['[', '  {"url": "http://a:11434", "max_concurrent": 1},', '  {"url": "gopher://b", "max_concurrent": 1},', '  {"max_concurrent": 0}', ']'].join('\n');
    const issues = issuesOf(() => parseNodeList(text, 'servers.json'));
    expect(issues.map((i) => [i.path, i.line])).toEqual([
      ['[1].url', 3],
      ['[2].max_concurrent', 4],
      ['[2].url', 4],
    ]);
  });

  test('not a list', () => {
    expect(issuesOf(() => parseNodeList('url: http://a:1\n', 'x.yaml'))[0]).toMatchObject({ message: 'expected a list of nodes', line: 1 });
  });
});

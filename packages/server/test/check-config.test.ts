// `ollama-ring check-config`, in process: the effective config printed as YAML or JSON, env
// overrides, masked secrets, errors with key and line, warnings, and the zero-config pool.
import * as yaml from 'js-yaml';
import { run, tempFiles } from './cli-harness';

const { file } = tempFiles('ollama-ring-check-config-');

describe('check-config', () => {
  test('check-config: a good file prints the effective config as YAML that reads back equal to --json', async () => {
    const cfg = file('good.yaml', 'server:\n  port: 9000\nnodes:\n  - id: gpu-1\n    url: http://10.0.0.5:11434\n    models: ["llama3.2:3b"]\nstrategy:\n  type: least_loaded\n');
    const y = await run(['check-config', cfg]);
    expect(y.code).toBe(0);
    expect(y.err).toContain('config OK');
    expect(y.out).toMatch(/^# effective config: .*good\.yaml/);
    const j = await run(['check-config', cfg, '--json']);
    expect(j.code).toBe(0);
    const fromJson = JSON.parse(j.out) as { server: { port: number }; nodes: { id: string }[]; queue: unknown };
    expect(fromJson.server.port).toBe(9000);
    expect(fromJson.nodes[0].id).toBe('gpu-1');
    expect(fromJson.queue).toBeDefined(); // defaults filled in
    expect(yaml.load(y.out)).toEqual(fromJson);
  });

  test('check-config: env overrides are applied and named', async () => {
    const cfg = file('env.yaml', 'nodes:\n  - url: http://10.0.0.5:11434\n');
    const r = await run(['check-config', cfg, '--json'], { OLLAMA_RING_PORT: '9999' });
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { server: { port: number } }).server.port).toBe(9999);
  });

  test('check-config: a password in a node URL is printed masked, in the config and in its errors', async () => {
    const good = file('creds.yaml', 'nodes:\n  - id: gpu-1\n    url: http://ring:pw%40s3cret@10.0.0.5/ollama/\n    metricsUrl: http://prom:pw%40s3cret@10.0.0.5:9100/metrics\n');
    for (const args of [[], ['--json']]) {
      const r = await run(['check-config', good, ...args]);
      expect(r.code).toBe(0);
      expect(r.out).toContain('http://ring:***@10.0.0.5/ollama');
      expect(r.out).toContain('http://prom:***@10.0.0.5:9100/metrics');
      expect(r.out).not.toContain('s3cret');
    }
    const bad = file('creds-bad.yaml', 'nodes:\n  - id: gpu-1\n    url: ftp://ring:pw%40s3cret@10.0.0.5/\n');
    const r = await run(['check-config', bad]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/creds-bad\.yaml:3: nodes\[0\]\.url: must be an http:\/\/ or https:\/\/ URL with a host \(got "ftp:\/\/ring:\*\*\*@10\.0\.0\.5\/"\)/);
    expect(r.err).not.toContain('s3cret');
  });

  test('check-config: the admin token, the API keys and the Redis password are printed masked', async () => {
    const cfg = file(
      'secrets.yaml',
      'nodes:\n  - { id: a, url: http://10.0.0.5:11434 }\nauth:\n  adminToken: tok-s3cret\n  apiKeys:\n    - { key: sk-s3cret, name: team }\nstate:\n  redis: { url: "redis://app:r3d-s3cret@redis:6379" }\n',
    );
    for (const args of [[], ['--json']]) {
      const r = await run(['check-config', cfg, ...args]);
      expect(r.code).toBe(0);
      expect(r.out).not.toContain('s3cret');
      expect(r.out).toContain('redis://app:***@redis:6379');
      expect(r.out).toContain('team');
    }
    const j = JSON.parse((await run(['check-config', cfg, '--json'])).out) as { auth: { adminToken: string; apiKeys: { key: string }[] } };
    expect(j.auth.adminToken).toBe('***');
    expect(j.auth.apiKeys[0].key).toBe('***');
  });

  test('check-config: a bad file names the key and line on stderr, exit 2', async () => {
    const cfg = file('bad.yaml', 'server:\n  port: 8080\nnodes:\n  - url: http://a:1\n    maxConcurrentRequests: -3\n');
    const r = await run(['check-config', cfg]);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/bad\.yaml:5: nodes\[0\]\.maxConcurrentRequests: must be >= 1/);
  });

  test('check-config: an unknown strategy is an error at its line', async () => {
    const cfg = file('strategy.yaml', 'nodes:\n  - url: http://a:1\nstrategy:\n  type: fastest\n');
    const r = await run(['check-config', cfg]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/strategy\.yaml:4: strategy\.type: .*fastest/);
  });

  test('check-config: unknown keys are warnings, and --hosts replaces the nodes', async () => {
    const cfg = file('warn.yaml', 'nodes:\n  - url: http://a:1\nserver:\n  colour: blue\n');
    const hosts = file('hosts.txt', '# two nodes\ngpu-1=10.0.0.5:11434*4\n10.0.0.6\n');
    const r = await run(['check-config', cfg, '--hosts', hosts, '--json']);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/warning: .*warn\.yaml:4: server\.colour: unknown key/);
    const nodes = (JSON.parse(r.out) as { nodes: { id: string; maxConcurrentRequests: number }[] }).nodes;
    expect(nodes.map((n) => n.id)).toEqual(['gpu-1', '10.0.0.6:11434']);
    expect(nodes[0].maxConcurrentRequests).toBe(4);
  });

  test('check-config with no file: the zero-config pool', async () => {
    const r = await run(['check-config', '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.out) as { nodes: { url: string }[] }).nodes.map((n) => n.url)).toEqual(['http://127.0.0.1:11434']);
  });
});

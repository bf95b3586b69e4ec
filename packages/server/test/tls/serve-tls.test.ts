/**
 * `ollama-ring serve` with `server.tls` as a process: it logs an https URL, answers over HTTPS with
 * the test CA, and a config whose certificate file is missing exits 2 naming the key and line.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Agent, request } from 'undici';
import { startSimPool, type SimPool } from '@ollama-ring/ollama-sim';
import { certDir, makeCa } from './certs';

const CLI = resolve(__dirname, '..', '..', 'dist', 'cli.js');

function run(args: string[]): { proc: ChildProcess; lines: string[]; exited: Promise<number | null>; stderr: () => string } {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let err = '';
  let buf = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  return { proc, lines, exited: new Promise((r) => proc.once('exit', (code) => r(code))), stderr: () => err };
}

describe('ollama-ring serve with server.tls', () => {
  const tmp = certDir();
  let sim: SimPool;
  beforeAll(async () => {
    sim = await startSimPool({ timeScale: 0.02, models: [{ name: 'llama3.2', loadMs: 100 }], nodes: [{ id: 'a', models: ['llama3.2'], numParallel: 1 }] });
  });
  afterAll(async () => {
    await sim.close();
    tmp.cleanup();
  });

  test('logs an https URL and serves over HTTPS; SIGTERM stops it with 0', async () => {
    const ca = makeCa(tmp.dir);
    const server = ca.issue('gateway');
    const cfg = join(tmp.dir, 'serve.yaml');
    writeFileSync(cfg, `server:\n  tls:\n    cert: ${server.cert}\n    key: ${server.key}\nnodes:\n  - id: a\n    url: ${sim.nodes[0].url}\n    maxConcurrentRequests: 1\n`);
    const gw = run(['serve', '--config', cfg, '--port', '0']);
    const agent = new Agent({ connect: { ca: readFileSync(ca.cert, 'utf8') } });
    try {
      const deadline = Date.now() + 15_000;
      let url: string | undefined;
      while (!url && Date.now() < deadline) {
        for (const l of gw.lines) if (l.includes('"msg":"listening"')) url = (JSON.parse(l) as { url: string }).url;
        if (!url) await new Promise((r) => setTimeout(r, 50));
      }
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const res = await request(`${url}/api/generate`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'llama3.2', prompt: 'hi', stream: false, options: { num_predict: 2 } }),
      });
      expect(res.statusCode).toBe(200);
      expect(((await res.body.json()) as { done: boolean }).done).toBe(true);
    } finally {
      await agent.close();
      gw.proc.kill('SIGTERM');
    }
    expect(await gw.exited).toBe(0);
  });

  test('a certificate file that cannot be read: exit 2, with the key and its line', async () => {
    const cfg = join(tmp.dir, 'bad.yaml');
    writeFileSync(cfg, `nodes:\n  - url: ${sim.nodes[0].url}\nserver:\n  tls:\n    cert: ${tmp.dir}/nope.pem\n    key: ${tmp.dir}/nope.key\n`);
    const gw = run(['serve', '--config', cfg, '--port', '0']);
    expect(await gw.exited).toBe(2);
    expect(gw.stderr()).toMatch(/bad\.yaml:5: server\.tls\.cert: cannot read .*nope\.pem \(ENOENT\)/);
    expect(gw.stderr()).toMatch(/bad\.yaml:6: server\.tls\.key: cannot read/);
  });
});

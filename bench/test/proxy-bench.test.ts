import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nginxConfig } from '../src/proxy/nginx';

// Runs the real benchmark at a tiny scale: the point is the shape of its output, not the figures.
const main = join(__dirname, '..', 'dist', 'proxy', 'main.js');

describe('bench:proxy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-proxy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('--json writes every target; nginx, when not found, and the previous build, with --baseline none, are skipped', async () => {
    const out = join(dir, 'out.json');
    const tiny = ['--warmup-ms', '200', '--measure-ms', '500', '--connections', '4', '--streams', '8', '--tokens', '4', '--tokens-per-sec', '200'];
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [main, '--quick', '--rounds', '1', '--retries', '0', ...tiny, '--nginx', join(dir, 'no-such-nginx'), '--baseline', 'none', '--json', out],
      { timeout: 60_000 },
    );
    expect(stdout).toMatch(/nginx: skipped .*apt-get install -y nginx-light/);
    const r = JSON.parse(readFileSync(out, 'utf8'));
    expect(r.machine).toMatchObject({ cores: expect.any(Number), node: process.version });
    expect(r.command).toMatch(/^pnpm bench:proxy --quick/);
    expect(r.targets.map((t: { name: string }) => t.name)).toEqual(['direct', 'ollama-ring-inline', 'ollama-ring-workers', 'nginx']);
    const [direct, inline, workers, nginx] = r.targets;
    for (const t of [direct, inline]) {
      expect(t.rps).toBeGreaterThan(0);
      expect(t.p99Ms).toBeGreaterThanOrEqual(t.p50Ms);
      expect(typeof t.ttftAddedP99Ms).toBe('number');
      expect(t.errors).toBe(0);
      expect(typeof t.proxyCpuUsPerRequest).toBe('number');
      expect(typeof t.proxyCpuUsPerLine).toBe('number');
    }
    expect(direct.ttftAddedP99Ms).toBe(0);
    // Measured once the balancer has it; until then skipped with this exact reason.
    if (workers.skipped) expect(workers.skipped).toBe("dispatchPlacement 'workers' not available");
    else expect(workers.rps).toBeGreaterThan(0);
    expect(nginx).toMatchObject({ rps: null, p50Ms: null, p99Ms: null, ttftAddedP99Ms: null });
    expect(nginx.skipped).toMatch(/apt-get install -y nginx-light/);
    expect(r.nginx).toEqual({ skipped: true });
    expect(r.references.map((t: { name: string }) => t.name)).toEqual(['node-passthrough', 'ollama-ring-previous', 'ollama-ring-metrics-worker']);
    const [passthrough, previous, metricsWorker] = r.references;
    expect(passthrough.rps).toBeGreaterThan(0);
    expect(metricsWorker.rps).toBeGreaterThan(0);
    expect(previous).toMatchObject({ rps: null, proxyCpuUsPerLine: null, skipped: 'no previous build (--baseline none)' });
    expect(r.baseline).toMatchObject({ ref: null, skipped: 'no previous build (--baseline none)' });
    // Ratios against the passthrough are there; against the skipped previous build, null.
    expect(inline.ratios.vsPassthrough.rps).toBeGreaterThan(0);
    expect(inline.ratios.vsPrevious).toBeNull();
    expect(stdout).toContain('Summary: proxy CPU per non-streaming request and per streamed line');
    // With nginx skipped, the req/s goal cannot be judged; the TTFT goal still is.
    const rpsGoal = r.goals.find((g: { what: string }) => g.what === 'ollama-ring-inline req/s vs nginx');
    expect(rpsGoal).toMatchObject({ met: null, measured: 'nginx skipped' });
  }, 90_000);

  test('the nginx config proxies to one upstream with least_conn and keepalive, unbuffered', () => {
    const conf = nginxConfig('/tmp/x', 8081, '127.0.0.1:11434', { workers: 'auto', keepalive: 400 }, '  proxy_temp_path /tmp/x/proxy;');
    expect(conf).toMatch(/upstream ollama \{\s+least_conn;\s+server 127\.0\.0\.1:11434;\s+keepalive 400;/);
    expect(conf).toContain('proxy_http_version 1.1;');
    expect(conf).toContain('proxy_set_header Connection "";');
    expect(conf).toContain('proxy_buffering off;');
    expect(conf).toContain('listen 127.0.0.1:8081;');
  });
});

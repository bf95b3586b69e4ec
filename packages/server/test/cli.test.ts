/**
 * The `ollama-ring` CLI. Quick cases run `runCli` in-process with captured output; the process
 * behaviour (exit status, signals, JSON logs, the watcher) runs the built CLI as a child process
 * against a simulated pool started here. Needs `tsc -b` first (scripts/test builds before jest).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import * as yaml from 'js-yaml';
import { Ollama } from 'ollama';
import { type SimPool, startSimPool } from '@ollama-ring/ollama-sim';
import { type Captured, run, tempFiles } from './cli-harness';
import { toYaml } from '../src/commands/yaml-out';
import { nodeRows } from '../src/commands/status';
import { version as VERSION } from '../package.json';

const CLI = resolve(__dirname, '..', 'dist', 'cli.js');

const { file } = tempFiles('ollama-ring-cli-');

describe('runCli (in-process)', () => {
  test.each<[string, string[], number, RegExp, 'out' | 'err']>([
    ['--help', ['--help'], 0, /Usage: ollama-ring <command>[\s\S]*serve[\s\S]*demo[\s\S]*check-config[\s\S]*status[\s\S]*batch/, 'out'],
    ['help serve', ['help', 'serve'], 0, /Usage: ollama-ring serve/, 'out'],
    ['--version', ['--version'], 0, new RegExp(`^${VERSION.replace(/\./g, '\\.')}\\n$`), 'out'],
    ['-V', ['-V'], 0, new RegExp(`^${VERSION.replace(/\./g, '\\.')}\\n$`), 'out'],
    ['no command', [], 2, /no command given[\s\S]*Usage:/, 'err'],
    ['unknown command', ['frobnicate'], 2, /unknown command 'frobnicate'/, 'err'],
    ['unknown top-level option', ['--frob'], 2, /unknown option '--frob'/, 'err'],
    ['serve --help', ['serve', '--help'], 0, /--config FILE[\s\S]*--hosts FILE[\s\S]*--verbose[\s\S]*--grace-ms/, 'out'],
    ['serve --version', ['serve', '--version'], 0, /^\d+\.\d+\.\d+\n$/, 'out'],
    ['serve, unknown flag', ['serve', '--bogus'], 2, /Unknown option '--bogus'[\s\S]*ollama-ring serve --help/, 'err'],
    ['serve, bad port', ['serve', '--port', '99999'], 2, /--port must be an integer from 0 to 65535/, 'err'],
    ['serve, bad log level', ['serve', '--log-level', 'loud'], 2, /--log-level must be one of/, 'err'],
    ['serve, missing config file', ['serve', '--config', '/nonexistent/x.yaml'], 2, /cannot read config file/, 'err'],
    ['demo --help', ['demo', '--help'], 0, /--duration S[\s\S]*--no-color/, 'out'],
    ['demo, bad duration', ['demo', '--duration', '0'], 2, /--duration must be a positive number/, 'err'],
    ['demo, unreadable pool file', ['demo', '--pool', '/nonexistent/pool.yaml'], 2, /invalid sim config .*\n.*cannot read file/, 'err'],
    ['status --help', ['status', '--help'], 0, /--url URL/, 'out'],
    ['status, bad url', ['status', '--url', 'ftp://x'], 2, /--url must be an http\(s\) URL/, 'err'],
    ['check-config --help', ['check-config', '--help'], 0, /Usage: ollama-ring check-config/, 'out'],
    ['check-config, two files', ['check-config', 'a.yaml', 'b.yaml'], 2, /unexpected argument 'b.yaml'/, 'err'],
    ['sim --help (the emulator CLI, renamed)', ['sim', '--help'], 0, /Usage: ollama-ring sim --config FILE/, 'out'],
    ['sim without --config', ['sim'], 2, /--config is required/, 'err'],
  ])('%s', async (_name, argv, code, pattern, stream) => {
    const r = await run(argv);
    expect(r[stream]).toMatch(pattern);
    expect(r.code).toBe(code);
  });

  test('status: a gateway that is not there is a clear error, exit 1', async () => {
    const port = await freePort();
    const r = await run(['status', '--url', `http://127.0.0.1:${port}`, '--timeout', '2']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);
  });

  test('status reads both /admin/nodes and /api/stats shapes', () => {
    const admin = nodeRows(
      {
        nodes: [
          {
            id: 'a',
            url: 'http://a',
            health: 'HEALTHY',
            inFlight: 1,
            maxConcurrent: 4,
            loadedModels: [
              { model: 'm', expiresAt: null },
              { model: 'old', expiresAt: 1 },
            ],
            breakerState: 'closed',
            totalRequests: 3,
            failedRequests: 1,
          },
        ],
      },
      1000,
    );
    expect(admin).toEqual([{ id: 'a', url: 'http://a', health: 'HEALTHY', inFlight: 1, slots: 4, hot: ['m'], breaker: 'closed', state: 'on', requests: '3/1', total: 3 }]);
    const stats = nodeRows(
      { instances: { b: { url: 'http://b', state: 'degraded', active_requests: 2, max_concurrent: 2, models_loaded: ['x'], circuit_breaker_open: true, draining: true } } },
      0,
    );
    expect(stats?.[0]).toMatchObject({ id: 'b', health: 'DEGRADED', inFlight: 2, slots: 2, hot: ['x'], breaker: 'open', state: 'draining' });
    expect(nodeRows({ something: 1 }, 0)).toBeUndefined();
  });

  test.each([
    [{ a: 1, b: 'x', c: true, d: null }, 'a: 1\nb: x\nc: true\nd: null\n'],
    [{ list: [], obj: {}, s: '' }, 'list: []\nobj: {}\ns: ""\n'],
    [{ nodes: [{ id: 'a', tags: ['gpu'] }] }, 'nodes:\n  - id: a\n    tags:\n      - gpu\n'],
    [{ tricky: ['yes', '10.0.0.5', 'a: b', '#x', 'http://h:1', 'true', '-1', 'ollama-ring:'] }, null],
  ])('toYaml %#', (value, expected) => {
    const text = toYaml(value);
    if (expected !== null) expect(text).toBe(expected);
    expect(yaml.load(text, { schema: yaml.CORE_SCHEMA })).toEqual(value);
  });
});

// ---------------------------------------------------------------------------------------------
// The built CLI as a child process.

interface Child {
  proc: ChildProcess;
  lines: string[];
  stderr: () => string;
  /** Resolves with the first stdout line matching, or rejects after `ms`. */
  waitFor(pred: (line: string) => boolean, ms?: number, what?: string): Promise<string>;
  exited: Promise<number | null>;
}

const children: ChildProcess[] = [];

function start(args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  const lines: string[] = [];
  let err = '';
  let partial = '';
  const waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) {
      lines.push(l);
      for (const w of [...waiters]) {
        if (w.pred(l)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(l);
        }
      }
    }
  });
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => void (err += c));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
    lines,
    stderr: () => err,
    exited,
    waitFor(pred, ms = 10_000, what = 'a log line') {
      const seen = lines.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}; stdout:\n${lines.join('\n')}\nstderr:\n${err}`)), ms);
        waiters.push({ pred, resolve: (l) => (clearTimeout(t), resolve(l)) });
        void exited.then((code) => {
          clearTimeout(t);
          reject(new Error(`exited (${code}) while waiting for ${what}; stdout:\n${lines.join('\n')}\nstderr:\n${err}`));
        });
      });
    },
  };
}

/** Runs the CLI to completion. */
async function runChild(args: string[], env: Record<string, string> = {}): Promise<Captured> {
  const c = start(args, env);
  const code = await c.exited;
  return { code: code ?? -1, out: c.lines.join('\n'), err: c.stderr() };
}

afterEach(() => {
  // A failed test must not leave a gateway running.
  for (const p of children.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

type LogLine = Record<string, unknown> & { msg: string; level: string };
const json = (l: string): LogLine | undefined => {
  try {
    return JSON.parse(l) as LogLine;
  } catch {
    return undefined;
  }
};
const msgIs =
  (msg: string, extra: (j: LogLine) => boolean = () => true) =>
  (l: string) => {
    const j = json(l);
    return j?.msg === msg && extra(j);
  };

describe('the built CLI as a process', () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx -y pnpm@10 exec tsc -b packages/server)`);
  });

  test('exit statuses: unknown command 2, --version 0, a bad config for serve 2 with key and line', async () => {
    const unknown = await runChild(['nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown command 'nope'/);
    const version = await runChild(['--version']);
    expect(version.code).toBe(0);
    expect(version.out.trim()).toBe(VERSION);
    const bad = file('serve-bad.yaml', 'nodes:\n  - url: http://a:1\n    weight: heavy\n');
    const serve = await runChild(['serve', '--config', bad, '--port', '0']);
    expect(serve.code).toBe(2);
    expect(serve.err).toMatch(/serve-bad\.yaml:3: nodes\[0\]\.weight/);
  });

  describe('serve against a simulated pool', () => {
    let sim: SimPool;
    beforeAll(async () => {
      sim = await startSimPool({
        timeScale: 0.02,
        models: [
          { name: 'llama3.2', loadMs: 500 },
          // Long, slow answers: a stream is still running when SIGTERM arrives.
          { name: 'slow', loadMs: 100, tokensPerSec: 4, responseTokens: { min: 60, max: 60 } },
        ],
        nodes: [
          { id: 'a', models: ['llama3.2', 'slow'], numParallel: 2 },
          { id: 'b', models: ['llama3.2'], numParallel: 2 },
        ],
      });
    });
    afterAll(() => sim.close());

    test('logs, routes, reloads, reports status, and drains on SIGTERM', async () => {
      const [a, b] = sim.nodes;
      const nodeA = `nodes:\n  - id: a\n    url: ${a.url}\n    maxConcurrentRequests: 2\n`;
      const cfg = file('serve.yaml', `${nodeA}healthCheck:\n  intervalMs: 500\n`);
      const gw = start(['serve', '--config', cfg, '--port', '0', '--verbose', '--grace-ms', '5000']);

      // JSON lines; the listening line carries the bound address.
      const listening = json(await gw.waitFor(msgIs('listening'), 15_000, 'listening'))!;
      expect(listening).toMatchObject({ level: 'info', component: 'serve', nodes: ['a'], strategy: 'predictive' });
      const url = listening.url as string;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      // The official client, streaming chat, through the gateway.
      const ollama = new Ollama({ host: url });
      let text = '';
      for await (const part of await ollama.chat({ model: 'llama3.2', messages: [{ role: 'user', content: 'hi' }], stream: true })) {
        text += part.message.content;
      }
      expect(text.length).toBeGreaterThan(0);
      // --verbose: the routing decision; always: one request line.
      const routed = json(await gw.waitFor(msgIs('routed'), 5_000, 'routed'))!;
      expect(routed).toMatchObject({ level: 'debug', component: 'scheduler', node: 'a', strategy: 'predictive', candidates: 1 });
      expect(typeof routed.cold).toBe('boolean');
      expect(typeof routed.queueMs).toBe('number');
      const request = json(await gw.waitFor(msgIs('request'), 5_000, 'request line'))!;
      expect(request).toMatchObject({ component: 'http', path: '/api/chat', status: 200, node: 'a', outcome: 'ok' });

      // A good edit applies without a restart...
      writeFileSync(cfg, `${nodeA}  - id: b\n    url: ${b.url}\nhealthCheck:\n  intervalMs: 500\n`);
      await gw.waitFor(
        msgIs('config reloaded', (j) => JSON.stringify(j.nodes) === '["a","b"]'),
        10_000,
        'config reloaded',
      );
      // ...and a bad one is logged with its key and line, keeping the last good config.
      writeFileSync(cfg, `${nodeA}  - id: b\n    url: 12\n`);
      const rejected = json(await gw.waitFor(msgIs('config not reloaded; the last good config stays'), 10_000, 'rejected edit'))!;
      expect(rejected).toMatchObject({ level: 'error', issues: [{ path: 'nodes[1].url', line: 6 }] });

      // status prints the pool, both nodes, from the admin API.
      await gw.waitFor(
        msgIs('node added', (j) => j.node === 'b'),
        5_000,
        'node b seen',
      );
      const status = await runChild(['status', '--url', url]);
      expect(status.err).toBe('');
      expect(status.code).toBe(0);
      expect(status.out).toMatch(/2 node\(s\)/);
      expect(status.out).toMatch(/^ID\s+URL\s+HEALTH\s+IN-FLIGHT\s+HOT MODELS\s+BREAKER/m);
      expect(status.out).toMatch(new RegExp(`^a\\s+${a.url.replace(/\./g, '\\.')}\\s+HEALTHY\\s+\\d+/2\\s`, 'm'));
      expect(status.out).toMatch(/^b\s+http/m);

      // SIGTERM while a stream is running: the stream finishes, then the process exits 0.
      const stream = await ollama.generate({ model: 'slow', prompt: 'tell me a long story', stream: true });
      const it = stream[Symbol.asyncIterator]();
      const first = await it.next();
      expect(first.done).toBe(false);
      const t0 = Date.now();
      gw.proc.kill('SIGTERM');
      let last = first.value as { done?: boolean; eval_count?: number };
      for (let r = await it.next(); !r.done; r = await it.next()) last = r.value;
      expect(last.done).toBe(true);
      expect(last.eval_count).toBe(60);
      expect(await gw.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5_000);
      expect(gw.lines.some(msgIs('shutting down: draining in-flight requests (a second signal exits now)', (j) => j.signal === 'SIGTERM'))).toBe(true);
      expect(gw.lines.some(msgIs('stopped'))).toBe(true);
      // Every stdout line is JSON.
      expect(gw.lines.filter((l) => l.trim() !== '' && json(l) === undefined)).toEqual([]);
    });
  });
});

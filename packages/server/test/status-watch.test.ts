/**
 * `ollama-ring status --watch` against a running gateway in front of the emulator: on a terminal,
 * the demo's live view redrawn in place while traffic flows; otherwise the table repeated under a
 * timestamp; a gateway that is not there, and misuse of the flags, are clear.
 */
import { createServer } from 'node:net';
import { inFlight } from '../../balancer/test/e2e/harness';
import { runCli } from '../src/cli';
import { tokenTotals } from '../src/commands/status-watch';
import type { CliIo } from '../src/commands/types';
import { allRoutes } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

// eslint-disable-next-line no-control-regex -- ANSI escape sequences start with ESC
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

async function watch(argv: string[], tty: boolean): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: tty, columns: 140, env: {} };
  const code = await runCli(['status', '--watch', ...argv], io);
  return { code, out, err };
}

describe('status --watch', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGateway(
      [
        { id: 'a', models: ['llama3.2'], numParallel: 2 },
        { id: 'b', models: ['llama3.2'], numParallel: 2 },
      ],
      () => undefined,
      { routes: allRoutes },
    );
  });
  afterAll(() => h.close());

  test('on a terminal: the live view of the pool, redrawn in place, with the tokens flowing and a disabled node', async () => {
    expect((await fetch(`${h.url}/admin/nodes/b/disable`, { method: 'POST' })).status).toBe(200);
    // Traffic for as long as the watch runs, so that tokens are generated between its refreshes.
    let running = true;
    const traffic = (async () => {
      while (running) {
        const res = await fetch(`${h.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'llama3.2', prompt: 'tell me a story', stream: false }) });
        await res.text();
      }
    })();
    let r: Awaited<ReturnType<typeof watch>>;
    try {
      r = await watch(['--url', h.url, '--interval', '0.5', '--count', '4'], true);
    } finally {
      running = false;
      await traffic;
    }
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.startsWith('\x1b[?25l')).toBe(true);
    expect(r.out.endsWith('\x1b[?25h')).toBe(true);
    // Four frames, each after the first going back up over the previous one.
    // eslint-disable-next-line no-control-regex -- the cursor-up sequence starts with ESC
    const frames = r.out.split(/\x1b\[\d+F/);
    expect(frames.length).toBe(4);
    const plain = frames.map((f) => f.replace(ANSI, ''));
    for (const f of plain) {
      expect(f).toMatch(new RegExp(`ollama-ring status .* gateway ${h.url.replace(/\./g, '\\.')} +strategy \\S+`));
      expect(f).toMatch(/^NODE\s+HEALTH\s+IN-FLIGHT\/SLOTS\s+TOK\/S\s+SERVED\s+HOT MODELS/m);
      expect(f).toMatch(/^a\s+healthy\s+\S*\s+\d\/2\s/m);
      expect(f).toMatch(/^b\s+healthy \(disabled\)\s+\S*\s+0\/2\s/m);
      expect(f).toMatch(/^waiting in the balancer: \d+/m);
      expect(f).toMatch(/^1\/2 nodes serving · \d+ requests in progress · [\d,]+ tok\/s/m);
    }
    // Node a generated tokens between two refreshes; b, disabled, none.
    const rates = plain.map((f) => Number(/^a\s+.*?\d\/2\s+([\d,]+)\s/m.exec(f)?.[1].replace(/,/g, '')));
    expect(Math.max(...rates)).toBeGreaterThan(0);
    expect(plain.every((f) => /^b\s+.*?0\/2\s+0\s/m.test(f))).toBe(true);
    expect((await fetch(`${h.url}/admin/nodes/b/enable`, { method: 'POST' })).status).toBe(200);
    expect(Object.values(inFlight(h)).every((n) => n === 0)).toBe(true);
  });

  test('not on a terminal: the table again every interval, under a timestamp, no escape codes', async () => {
    const r = await watch(['--url', h.url, '--interval', '0.2', '--count', '3'], false);
    expect(r.code).toBe(0);
    expect(r.out).not.toMatch(ANSI);
    const blocks = r.out.split(/^--- /m).filter((b) => b !== '');
    expect(blocks.length).toBe(3);
    for (const b of blocks) {
      expect(b).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n/);
      expect(b).toMatch(/2 node\(s\), 2 healthy/);
      expect(b).toMatch(/^ID\s+URL\s+HEALTH\s+IN-FLIGHT\s+HOT MODELS\s+BREAKER\s+STATE\s+REQ\/FAILED$/m);
      expect(b).toMatch(/^waiting in the balancer: 0$/m);
    }
  });

  test('a gateway that is not there: the reason in each refresh, exit 1', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const r = await watch(['--url', `http://127.0.0.1:${port}`, '--interval', '0.1', '--count', '2', '--timeout', '2'], false);
    expect(r.code).toBe(1);
    expect(r.out.match(/ollama-ring status: cannot reach the gateway at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/g)?.length).toBe(2);
  });

  test('flags that do not go together are usage errors', async () => {
    for (const [argv, msg] of [
      [['status', '--interval', '1'], /--interval and --count go with --watch/],
      [['status', '--watch', '--json'], /--json and --watch do not go together/],
      [['status', '--watch', '--interval', '0'], /--interval must be a positive number/],
      [['status', '--watch', '--count', '0'], /--count must be an integer from 1/],
    ] as const) {
      let err = '';
      const code = await runCli([...argv], { out: () => undefined, err: (t) => void (err += t), isTTY: false, env: {} });
      expect({ argv, code }).toEqual({ argv, code: 2 });
      expect(err).toMatch(msg);
    }
  });

  test('tokens per node are read from /metrics whatever the prefix, summed over models', () => {
    const text = [
      '# TYPE my_ring_tokens_generated_total counter',
      'my_ring_tokens_generated_total{node="a",model="llama3.2:latest"} 100',
      'my_ring_tokens_generated_total{model="qwen3:latest",node="a"} 20',
      'my_ring_tokens_generated_total{node="b",model="qwen3:latest"} 7',
      'my_ring_requests_total{node="b",model="qwen3:latest",outcome="success"} 3',
    ].join('\n');
    expect([...tokenTotals(text)]).toEqual([
      ['a', 120],
      ['b', 7],
    ]);
  });
});

/**
 * `ollama-ring demo`: the built CLI runs a short demo to completion; the parts (pool source,
 * balancer config, live view, summary) are checked in-process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadSimConfig, type SimPool } from '@ollama-ring/ollama-sim';
import type { CliIo } from '../src/commands/types';
import { truncateVisible } from '../src/demo/colors';
import { EMBEDDED_SIM_POOL } from '../src/demo/embedded-pool';
import { LiveView, renderLive, renderPlain } from '../src/demo/live-view';
import { demoPoolConfig } from '../src/demo/pool-source';
import type { LiveSnapshot } from '../src/demo/sampler';
import { balancerConfigFor } from '../src/demo/stack';
import { quantile } from '../src/demo/stats';
import { renderSummary } from '../src/demo/summary';
import type { RequestResult } from '../src/demo/workload';

const CLI = resolve(__dirname, '..', 'dist', 'cli.js');
const POOL_FILE = resolve(__dirname, '..', '..', '..', 'config', 'sim-pool.yaml');
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[/;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const p of children.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

function runDemo(args: string[], onLine?: (line: string, proc: ChildProcess) => void): Promise<{ code: number | null; out: string; err: string }> {
  const proc = spawn(process.execPath, [CLI, 'demo', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '' } });
  children.push(proc);
  let out = '';
  let err = '';
  proc.stdout?.setEncoding('utf8').on('data', (c: string) => {
    const before = out.length;
    out += c;
    if (onLine)
      for (const l of out
        .slice(out.lastIndexOf('\n', before) + 1)
        .split('\n')
        .slice(0, -1))
        onLine(l, proc);
  });
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => void (err += c));
  return new Promise((r) => proc.once('exit', (code) => r({ code, out, err })));
}

describe('ollama-ring demo (built CLI)', () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx -y pnpm@10 exec tsc -b packages/server)`);
  });

  test('--duration 3 runs to completion, prints progress and the summary, exits 0', async () => {
    const r = await runDemo(['--duration', '3', '--no-color']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Starting 3 simulated Ollama nodes .*sim-pool\.yaml, timeScale 0\.3/);
    expect(r.out).toMatch(/Gateway on http:\/\/127\.0\.0\.1:\d+/);
    // Not a terminal: periodic plain lines, no cursor moves or colours.
    expect(r.out).toMatch(/^\[\s+0\.0s\] gpu-large 0\/12 /m);
    expect(r.out).not.toMatch(ANSI);
    expect(r.out).toMatch(/Summary: 3\.0 s, 3 nodes, strategy predictive/);
    const ok = Number(/requests\s+(\d+) ok, (\d+) failed/.exec(r.out)?.[1]);
    expect(ok).toBeGreaterThan(5);
    expect(r.out).toMatch(/^TTFT\s+\d/m);
    expect(r.out).toMatch(/^latency\s+\d/m);
    expect(r.out).toMatch(/^cold loads\s+\d+/m);
    expect(r.out).toMatch(/^NODE\s+REQUESTS\s+SHARE\s+TOKENS\s+MODEL LOADS/m);
    for (const id of ['gpu-large', 'gpu-small', 'cpu-box']) expect(r.out).toMatch(new RegExp(`^${id}\\s+\\d+\\s+(\\d+%|-)`, 'm'));
    expect(r.out).toMatch(/^llama3\.2:3b\s+\d+\s+\d+/m);
    expect(r.out.trimEnd()).toMatch(/Shut down: gateway drained and closed, simulated nodes stopped\.$/);
  });

  test('Ctrl-C ends the run early, still with a summary and status 0', async () => {
    let sent = false;
    const r = await runDemo(['--duration', '60', '--no-color'], (line, proc) => {
      // The first progress line after t=0 means traffic is flowing.
      if (!sent && /^\[\s+[1-9]/.test(line)) {
        sent = true;
        proc.kill('SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/Summary: \d+\.\d s/);
    expect(r.out).toMatch(/Shut down/);
  });
});

describe('demo parts', () => {
  test('the embedded pool is config/sim-pool.yaml', () => {
    expect(EMBEDDED_SIM_POOL).toEqual(loadSimConfig(POOL_FILE));
  });

  test('the demo pool takes free ports and the time scale, from the repository file', () => {
    const p = demoPoolConfig(undefined, 0.25);
    expect(p.from).toBe(POOL_FILE);
    expect(p.config.timeScale).toBe(0.25);
    expect(p.config.nodes.map((n) => n.port)).toEqual([0, 0, 0]);
    expect(p.config.verbose).toBe(false);
  });

  test('balancer config: slots are NUM_PARALLEL per resident model, capped per model', () => {
    const cfg = demoPoolConfig(undefined, 1).config;
    const sim = { nodes: cfg.nodes.map((n, i) => ({ id: n.id, url: `http://127.0.0.1:${1000 + i}` })) } as unknown as SimPool;
    const b = balancerConfigFor(cfg, sim);
    expect(b.nodes.map((n) => [n.id, n.maxConcurrentRequests])).toEqual([
      ['gpu-large', 12],
      ['gpu-small', 4],
      ['cpu-box', 1],
    ]);
    expect(b.nodes[0].maxConcurrentPerModel?.['llama3.2:3b']).toBe(4);
    expect(b.healthCheck.intervalMs).toBe(2000);
    // Every node of the pool file has an exporter: the balancer scrapes it.
    expect(b.nodes.map((n) => n.metricsUrl)).toEqual(sim.nodes.map((n) => `${n.url}/metrics`));
  });

  const snapshot: LiveSnapshot = {
    elapsedMs: 4200,
    durationMs: 30000,
    url: 'http://127.0.0.1:1234',
    strategy: 'predictive',
    nodes: [
      {
        id: 'gpu-large',
        health: 'HEALTHY',
        breaker: 'closed',
        inFlight: 6,
        slots: 12,
        waitingOnNode: 0,
        hot: [
          { model: 'llama3.2:3b', loading: false },
          { model: 'gemma3:12b', loading: true },
        ],
        tokensPerSec: 812.4,
        served: 40,
      },
      { id: 'cpu-box', health: 'UNHEALTHY', breaker: 'open', inFlight: 0, slots: 1, waitingOnNode: 2, hot: [], tokensPerSec: 0, served: 1 },
    ],
    queue: {
      depth: 3,
      byModel: [
        ['qwen3:8b', 2],
        ['gemma3:12b', 1],
      ],
    },
    sent: 50,
    ok: 41,
    failed: 1,
    inFlight: 8,
    tokensPerSec: 812.4,
    burst: true,
    phase: 'running',
  };

  test('live view: one row per node with slots, queue, tok/s and hot models', () => {
    const text = renderLive(snapshot, false).join('\n');
    expect(text).not.toMatch(ANSI);
    expect(text).toMatch(/4\.2 s \/ 30\.0 s/);
    expect(text).toMatch(/gpu-large\s+healthy\s+█{6}░{6}\s+6\/12\s+0\s+812\s+40\s+llama3\.2:3b, gemma3:12b \(loading\)/);
    expect(text).toMatch(/cpu-box\s+unhealthy \(breaker open\)\s+░\s+0\/1\s+2\s+0\s+1\s+-/);
    expect(text).toMatch(/waiting in the balancer: 3 {2}\(qwen3:8b 2, gemma3:12b 1\)/);
    expect(text).toMatch(/50 sent · 41 ok · 1 failed · 8 in flight · 812 tok\/s.*BURST/);
    expect(renderLive(snapshot, true).join('\n')).toMatch(ANSI);
    expect(renderPlain(snapshot)).toBe('[  4.2s] gpu-large 6/12 812tok/s [llama3.2:3b gemma3:12b*] | cpu-box 0/1 0tok/s [] | waiting 3 | ok 41 failed 1 in-flight 8 BURST');
  });

  test('live view on a terminal redraws in place and gives the cursor back', () => {
    let out = '';
    const io: CliIo = { out: (t) => void (out += t), err: () => undefined, isTTY: true, env: {} };
    const view = new LiveView(io, { tty: true, color: true, columns: 60 });
    view.start(() => snapshot);
    view.stop({ ...snapshot, phase: 'done' });
    const lines = renderLive(snapshot, true).length;
    expect(out.startsWith('\x1b[?25l')).toBe(true);
    expect(out).toContain(`\x1b[${lines}F`); // back to the top of the previous frame
    expect(out).toContain('done after 4.2 s');
    expect(out.endsWith('\x1b[?25h')).toBe(true);
    // Cut to the width, so no line wraps and breaks the redraw.
    // eslint-disable-next-line no-control-regex -- ANSI escape sequences start with ESC
    for (const l of out.split('\n')) expect(l.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').length).toBeLessThanOrEqual(59);
  });

  test('truncateVisible keeps colour codes and counts only visible characters', () => {
    const s = '\x1b[32mhello\x1b[39m world';
    expect(truncateVisible(s, 7)).toBe('\x1b[32mhello\x1b[39m w');
    expect(truncateVisible('abc', 10)).toBe('abc');
  });

  test('quantile by nearest rank', () => {
    expect(quantile([], 0.5)).toBeUndefined();
    expect(quantile([5, 1, 3], 0.5)).toBe(3);
    expect(
      quantile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        0.99,
      ),
    ).toBe(99);
  });

  test('summary: ok/failed, cut-off requests apart, per-node share and loads', () => {
    const r = (over: Partial<RequestResult>): RequestResult => ({
      spec: { kind: 'chat', model: 'llama3.2:3b', stream: true, prompt: 'x' },
      ok: true,
      cutOff: false,
      latencyMs: 100,
      ttftMs: 50,
      tokens: 10,
      burst: false,
      node: 'a',
      queueMs: 0,
      ...over,
    });
    const text = renderSummary({
      results: [r({}), r({}), r({ node: 'b', latencyMs: 900 }), r({ ok: false, error: 'boom', node: undefined }), r({ ok: false, cutOff: true })],
      elapsedMs: 2000,
      strategy: 'predictive',
      nodes: ['a', 'b'],
      loads: new Map([
        ['a', 1],
        ['b', 2],
      ]),
      color: false,
    });
    expect(text).toMatch(/requests {4}3 ok, 1 failed \(25%\), 1 cut off at the end/);
    expect(text).toMatch(/cold loads {2}3/);
    expect(text).toMatch(/^a\s+2\s+67%\s+20\s+1$/m);
    expect(text).toMatch(/^b\s+1\s+33%\s+10\s+2$/m);
    expect(text).toMatch(/1 × boom/);
  });
});

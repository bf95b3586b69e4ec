/**
 * `ollama-ring workflow validate|run|graph` end to end: the CLI (in-process, and the built one as a
 * child for Ctrl-C) over a simulated pool, and through a gateway with --url.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type SimModelConfig, type SimPool, startSimPool } from '@ollama-ring/ollama-sim';
import type { RunResults } from '@ollama-ring/balancer';
import { eventually } from '../../../balancer/test/e2e/harness';
import { allRoutes } from '../../src/http/routes';
import { startGateway, type GatewayHarness } from '../gateway-harness';
import { cli, cliSuite, inProcess } from '../batch/cli-harness';
import { runCli } from '../../src/cli';

const at = cliSuite();
const MODELS: SimModelConfig[] = [
  { name: 'llama3.2', loadMs: 200 },
  { name: 'qwen3', loadMs: 300 },
  { name: 'nomic-embed-text', loadMs: 100, capabilities: ['embedding'], embeddingLength: 8 },
];

let sim: SimPool;
let config: string;
beforeAll(async () => {
  sim = await startSimPool({
    timeScale: 0.02,
    models: MODELS,
    nodes: [
      { id: 'cpu-1', models: ['llama3.2', 'qwen3', 'nomic-embed-text'], numParallel: 2, gpu: false },
      { id: 'gpu-1', models: ['llama3.2', 'qwen3', 'nomic-embed-text'], numParallel: 2 },
    ],
  });
  config = at('pool.yaml');
  writeFileSync(config, `nodes:\n${sim.nodes.map((n) => `  - id: ${n.id}\n    url: ${n.url}\n    maxConcurrentRequests: 2\n`).join('')}retry: { maxRetries: 0 }\n`);
});
afterAll(() => sim.close());
afterEach(() => {
  for (const n of sim.nodes) sim.node(n.id).clearFaults();
});

/** Inference requests the emulator has seen (probes and discovery left out). */
const inferences = () => sim.state().reduce((n, s) => n + (s.byRoute['POST /api/generate'] ?? 0) + (s.byRoute['POST /api/chat'] ?? 0) + (s.byRoute['POST /api/embed'] ?? 0), 0);
const read = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as RunResults;

const DIAMOND = `
name: diamond
vars: { topic: tides, parts: [one, two, three] }
tasks:
  - id: outline
    method: llm/generate
    params: { model: llama3.2, prompt: "outline \${topic}" }
  - id: sections
    method: llm/generate
    for_each: \${parts}
    params: { model: qwen3, prompt: "write part {{ item }} of {{ tasks.outline.output }}" }
  - id: facts
    method: llm/chat
    params:
      model: llama3.2
      messages: [{ role: user, content: "facts for {{ tasks.outline.output }}" }]
      format: { type: object, properties: { fact: { type: string }, ok: { type: boolean } } }
  - id: report
    method: llm/generate
    params: { model: llama3.2, prompt: "{{ tasks.sections.output }} {{ tasks.facts.json.fact }}" }
`;

test("seed 001's example form loads and runs unchanged: its pool, names, protocol and routing hints", async () => {
  const text = readFileSync(join(__dirname, 'fixtures', 'seed-001-form.yaml'), 'utf8')
    .replace('__CPU_URL__', sim.nodes[0].url)
    .replace('__GPU_URL__', sim.nodes[1].url);
  writeFileSync(at('seed.yaml'), text);
  const v = await inProcess(['workflow', 'validate', at('seed.yaml')]);
  expect(v.out).toMatch(/ok: 3 tasks; models checked against nodes: cpu-1, gpu-1/);
  const r = await inProcess(['workflow', 'run', at('seed.yaml'), '--output', at('seed-results.json')]);
  expect(r.err).toMatch(/workflow Pool-wide analysis: succeeded: 3 succeeded, 0 failed/);
  expect(r.code).toBe(0);
  const res = read(at('seed-results.json'));
  expect(Object.keys(res.tasks)).toEqual(['quick_analysis', 'deep_analysis', 'fast_response']);
  for (const t of Object.values(res.tasks)) expect(t.status).toBe('succeeded');
  // require_gpu / instance_tags: only the node tagged gpu may serve it.
  expect(res.tasks.deep_analysis.node).toBe('gpu-1');
});

test('run over --config: plain log lines per task, a results file with each task’s status, output, node, timings, tokens and attempts', async () => {
  writeFileSync(at('diamond.yaml'), DIAMOND);
  const r = await inProcess(['workflow', 'run', at('diamond.yaml'), '--config', config, '--var', 'topic=reefs', '--output', at('diamond.json')]);
  expect(r.code).toBe(0);
  expect(r.err).toMatch(/^\[\+[\d.]+s\] start outline$/m);
  expect(r.err).toMatch(/^\[\+[\d.]+s\] succeeded report on (cpu-1|gpu-1) in [\d.]+s \(1 attempt, \d+ tokens\)$/m);
  const res = read(at('diamond.json'));
  expect(res).toMatchObject({ workflow: 'diamond', status: 'succeeded', requestClass: 'interactive', vars: { topic: 'reefs' } });
  expect(res.tasks.sections.output).toHaveLength(3);
  expect(typeof (res.tasks.facts.json as { fact: string }).fact).toBe('string');
  for (const t of Object.values(res.tasks)) {
    expect(t).toMatchObject({ status: 'succeeded', attempts: t === res.tasks.sections ? 3 : 1 });
    expect(t.tokens!.completion).toBeGreaterThan(0);
    expect(Date.parse(t.endedAt!)).toBeGreaterThanOrEqual(Date.parse(t.startedAt!));
  }
  // The report started only after both branches had ended.
  expect(Date.parse(res.tasks.report.startedAt!)).toBeGreaterThanOrEqual(Math.max(Date.parse(res.tasks.sections.endedAt!), Date.parse(res.tasks.facts.endedAt!)));
});

test('validate names each problem with its line; a model no node has is caught before anything runs', async () => {
  writeFileSync(at('bad.yaml'), 'name: bad\ntasks:\n  - id: a\n    method: llm/generate\n    params: { model: mixtral, prompt: "{{ tasks.b.output }}" }\n');
  const before = inferences();
  const v = await inProcess(['workflow', 'validate', at('bad.yaml'), '--config', config]);
  expect(v.code).toBe(2);
  expect(v.err).toMatch(/bad\.yaml:5: tasks\[0\]\.params\.prompt: '\{\{ tasks\.b\.output \}\}' reads unknown task 'b'/);
  writeFileSync(at('bad2.yaml'), 'name: bad\ntasks:\n  - id: a\n    method: llm/generate\n    params: { model: mixtral, prompt: hi }\n');
  const r = await inProcess(['workflow', 'run', at('bad2.yaml'), '--config', config]);
  expect(r.code).toBe(2);
  expect(r.err).toMatch(/bad2\.yaml:5: tasks\[0\]\.params\.model: model 'mixtral' is on no node of the pool \(nodes: cpu-1, gpu-1\)/);
  expect(inferences() - before).toBe(0);
  const usage = await inProcess(['workflow', 'run', at('bad2.yaml'), '--resume', at('nope.json')]);
  expect(usage.code).toBe(2);
});

test('on a terminal the tasks are redrawn in place with their state, node and elapsed time', async () => {
  writeFileSync(at('tty.yaml'), DIAMOND);
  let err = '';
  const code = await runCli(['workflow', 'run', at('tty.yaml'), '--config', config, '--output', at('tty.json')], {
    out: () => undefined,
    err: (t) => void (err += t),
    isTTY: true,
    errIsTTY: true,
    columns: 100,
    env: {},
  });
  expect(code).toBe(0);
  expect(err).toContain('\x1b[');
  expect(err).toMatch(/workflow diamond: \d+ done, \d+ running, \d+ waiting, 0 failed, 0 skipped/);
  expect(err).toMatch(/^ {2}sections +running +(cpu-1|gpu-1)? +[\d.]+s/m);
  expect(err).toMatch(/^ {2}report +succeeded +(cpu-1|gpu-1) +[\d.]+s/m);
});

test('graph prints the tasks as text and as Mermaid', async () => {
  writeFileSync(at('g.yaml'), DIAMOND);
  const t = await inProcess(['workflow', 'graph', at('g.yaml')]);
  expect(t.out).toMatch(/^ {4}sections {2}\[llm\/generate qwen3 for_each\] {2}<- outline$/m);
  const m = await inProcess(['workflow', 'graph', at('g.yaml'), '--mermaid']);
  expect(m.out.split('\n')[0]).toBe('flowchart TD');
  expect(m.out).toContain('  sections --> report');
  expect(m.out).toContain('  facts --> report');
});

test('a failed task skips its dependents; --resume runs only what did not succeed and writes back to the file', async () => {
  const flow = `
name: partial
tasks:
  - { id: first, method: llm/generate, params: { model: llama3.2, prompt: a } }
  - { id: vec, method: llm/embed, params: { model: nomic-embed-text, input: "{{ tasks.first.output }}" } }
  - { id: after_vec, method: llm/generate, params: { model: llama3.2, prompt: "use {{ tasks.vec.output }}" } }
  - { id: other, method: llm/generate, depends_on: first, params: { model: qwen3, prompt: b } }
`;
  writeFileSync(at('partial.yaml'), flow);
  for (const n of sim.nodes) sim.node(n.id).setFaults({ failNext: { count: 100, status: 500, message: 'embedder down', paths: ['/api/embed'] } });
  const r = await inProcess(['workflow', 'run', at('partial.yaml'), '--config', config, '--output', at('partial.json')]);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/failed vec: .*embedder down/);
  expect(r.err).toMatch(/skipped after_vec: needs 'vec', which failed/);
  const first = read(at('partial.json'));
  expect(first.tasks.other.status).toBe('succeeded');
  for (const n of sim.nodes) sim.node(n.id).clearFaults();
  const again = await inProcess(['workflow', 'run', at('partial.yaml'), '--config', config, '--resume', at('partial.json')]);
  expect(again.code).toBe(0);
  expect(again.err).toMatch(/kept first/);
  const second = read(at('partial.json'));
  expect(second.status).toBe('succeeded');
  expect(second.tasks.first).toEqual({ ...first.tasks.first, resumed: true });
  expect(second.tasks.vec.status).toBe('succeeded');
});

test('Ctrl-C cancels: no task starts, the running ones are aborted upstream, exit 130, and the results say cancelled', async () => {
  for (const n of sim.nodes) sim.node(n.id).setFaults({ hang: { paths: ['/api/chat'] } });
  writeFileSync(
    at('hang.yaml'),
    `name: hang
tasks:
  - { id: a, method: llm/chat, params: { model: llama3.2, messages: [{ role: user, content: x }] } }
  - { id: b, method: llm/chat, params: { model: llama3.2, messages: [{ role: user, content: y }] } }
  - { id: c, method: llm/generate, params: { model: llama3.2, prompt: "{{ tasks.a.output }}" } }
`,
  );
  const r = await cli(['workflow', 'run', at('hang.yaml'), '--config', config, '--output', at('hang.json')], async (p, err) => {
    await eventually(() => (err().match(/start [ab]\b/g) ?? []).length === 2, 15_000, 'both tasks to start');
    await eventually(() => sim.state().reduce((n, s) => n + s.inferenceInFlight, 0) === 2, 15_000, 'both requests at the nodes');
    p.kill('SIGINT');
  });
  expect(r.code).toBe(130);
  const res = read(at('hang.json'));
  expect(res.status).toBe('cancelled');
  expect(res.tasks.c).toMatchObject({ status: 'cancelled', attempts: 0 });
  await eventually(() => sim.state().every((s) => s.inferenceInFlight === 0), 5_000, 'the nodes to see the aborts');
});

describe('through a gateway (--url)', () => {
  let gw: GatewayHarness;
  beforeAll(async () => {
    gw = await startGateway([{ id: 'g1', numParallel: 2, models: ['llama3.2', 'qwen3', 'nomic-embed-text'] }], (c) => void (c.batch.dataDir = at('gw-data')), {
      routes: allRoutes,
    });
  });
  afterAll(() => gw.close());

  test('validate checks models against the gateway; run starts a run there, follows it, and writes its results', async () => {
    writeFileSync(at('remote.yaml'), DIAMOND);
    const v = await inProcess(['workflow', 'validate', at('remote.yaml'), '--url', gw.url]);
    expect(v.out).toMatch(/models checked against the gateway at/);
    const r = await inProcess(['workflow', 'run', at('remote.yaml'), '--url', gw.url, '--class', 'batch', '--output', at('remote.json')], { OLLAMA_RING_VAR_topic: 'dunes' });
    expect(r.err).toMatch(/workflow run wf_\w+ started on http/);
    expect(r.code).toBe(0);
    const res = read(at('remote.json'));
    expect(res).toMatchObject({ status: 'succeeded', requestClass: 'batch', vars: { topic: 'dunes' } });
    expect(res.tasks.report.node).toBe('g1');
    // A workflow the gateway refuses: its errors, with their lines, and exit 2.
    writeFileSync(at('remote-bad.yaml'), 'name: x\ntasks:\n  - id: a\n    method: llm/generate\n    params: { model: mixtral, prompt: hi }\n');
    const bad = await inProcess(['workflow', 'run', at('remote-bad.yaml'), '--url', gw.url]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/workflow:5: tasks\[0\]\.params\.model: model 'mixtral' is on no node of the pool \(nodes: g1\)/);
  });
});

/**
 * The gateway's workflow API end to end (real sockets, the emulator): start, follow and cancel
 * runs, its refusals, its metrics, and a run that outlives the gateway that started it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Gateway } from '../../src';
import { allRoutes } from '../../src/http/routes';
import { eventually, inFlight } from '../../../balancer/test/e2e/harness';
import { startGateway, type GatewayHarness } from '../gateway-harness';

type Run = { id: string; status: string; tasks: Record<string, { status: string; attempts: number; node?: string; output?: unknown; reason?: string }> };

let dir: string;
let g: GatewayHarness;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'workflow-gw-'));
  g = await startGateway(
    [
      { id: 'a', numParallel: 2, models: ['llama3.2', 'qwen3', 'nomic-embed-text'] },
      { id: 'b', numParallel: 2, models: ['llama3.2', 'qwen3', 'nomic-embed-text'] },
    ],
    (c) => void (c.batch.dataDir = dir),
    { routes: allRoutes },
  );
});
afterAll(async () => {
  await g.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const n of ['a', 'b']) g.sim.node(n).clearFaults();
  await eventually(() => Object.values(inFlight(g)).every((n) => n === 0), 10_000, 'no request in flight');
});

async function call(method: string, path: string, body?: unknown, base = g.url): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function until(id: string, done: (r: Run) => boolean, base = g.url, ms = 20_000): Promise<Run> {
  const end = Date.now() + ms;
  for (;;) {
    const r = (await call('GET', `/api/workflows/${id}`, undefined, base)).json as unknown as Run;
    if (done(r)) return r;
    if (Date.now() > end) throw new Error(`run ${id} still ${r.status}: ${JSON.stringify(r.tasks)}`);
    await new Promise((x) => setTimeout(x, 50));
  }
}

const FLOW = `
name: gw
vars: { items: [x, y] }
tasks:
  - id: start
    method: llm/chat
    params:
      model: llama3.2
      messages: [{ role: user, content: begin }]
      format: { type: object, properties: { go: { type: boolean }, word: { type: string } } }
  - id: each
    method: llm/generate
    for_each: \${items}
    params: { model: qwen3, prompt: "{{ item }} {{ tasks.start.json.word }}" }
  - id: maybe
    method: llm/generate
    when: "{{ tasks.start.json.go }}"
    params: { model: llama3.2, prompt: go }
  - id: never
    method: llm/generate
    when: "{{ index }} == 5"
    for_each: [a]
    params: { model: llama3.2, prompt: "{{ item }}" }
  - id: end
    method: llm/generate
    depends_on: [each]
    params: { model: llama3.2, prompt: "{{ tasks.each.output }}" }
`;

test('POST starts a run (YAML text and vars), GET follows it to its results; the metrics count runs, tasks and durations', async () => {
  const post = await call('POST', '/api/workflows', { workflow: FLOW, vars: { items: ['p', 'q', 'r'] } });
  expect(post.status).toBe(201);
  expect(post.json).toMatchObject({ status: 'running', workflow: 'gw', class: 'interactive' });
  const r = await until(post.json.id as string, (x) => x.status !== 'running');
  expect(r.status).toBe('succeeded');
  expect(r.tasks.each.output).toHaveLength(3);
  expect(r.tasks.each.attempts).toBe(3);
  expect(r.tasks.never).toMatchObject({ status: 'skipped' });
  expect(['succeeded', 'skipped']).toContain(r.tasks.maybe.status);
  expect(['a', 'b']).toContain(r.tasks.end.node);
  const metrics = await (await fetch(`${g.url}/metrics`)).text();
  expect(metrics).toMatch(/_workflow_runs_total\{outcome="succeeded"\} 1/);
  expect(metrics).toMatch(/_workflow_tasks_total\{state="skipped"\} [1-9]/);
  expect(metrics).toMatch(/_workflow_task_duration_seconds_count\{state="succeeded"\} [1-9]/);
});

test('a workflow with errors is refused with 400 and each issue named by key and line; nothing runs', async () => {
  const bad = 'name: bad\ntasks:\n  - id: a\n    method: llm/guess\n    params: { model: llama3.2 }\n';
  const r = await call('POST', '/api/workflows', { workflow: bad });
  expect(r.status).toBe(400);
  expect(r.json).toMatchObject({ code: 'ERR_WORKFLOW_INVALID', issues: [{ path: 'tasks[0].method', line: 4 }] });
  const model = await call('POST', '/api/workflows', { workflow: { tasks: [{ id: 'a', method: 'llm/chat', params: { model: 'mixtral', messages: [] } }] } });
  expect(model.status).toBe(400);
  expect((model.json.issues as { message: string }[])[0].message).toMatch(/model 'mixtral' is on no node of the pool \(nodes: a, b\)/);
  expect((await call('POST', '/api/workflows', { vars: {} })).status).toBe(400);
  expect((await call('GET', '/api/workflows/wf_nope')).status).toBe(404);
});

test('DELETE cancels: the running requests are aborted upstream, the rest never starts; a second DELETE is 409', async () => {
  for (const n of ['a', 'b']) g.sim.node(n).setFaults({ hang: { paths: ['/api/generate'] } });
  const post = await call('POST', '/api/workflows', {
    workflow:
      'name: c\ntasks:\n  - { id: a, method: llm/generate, params: { model: llama3.2, prompt: x } }\n  - { id: b, method: llm/generate, params: { model: llama3.2, prompt: "{{ tasks.a.output }}" } }\n',
    class: 'batch',
  });
  const id = post.json.id as string;
  await eventually(() => g.sim.state().reduce((n, s) => n + s.inferenceInFlight, 0) === 1, 10_000, 'the first request at a node');
  const del = await call('DELETE', `/api/workflows/${id}`);
  expect(del.status).toBe(202);
  const r = await until(id, (x) => x.status !== 'running');
  expect(r.status).toBe('cancelled');
  expect(r.tasks.a.status).toBe('cancelled');
  expect(r.tasks.b).toMatchObject({ status: 'cancelled', attempts: 0 });
  await eventually(() => g.sim.state().every((s) => s.inferenceInFlight === 0), 5_000, 'the nodes to see the abort');
  expect((await call('DELETE', `/api/workflows/${id}`)).status).toBe(409);
});

test('a run survives a gateway restart: the next gateway on the same data directory resumes it, keeping what succeeded', async () => {
  const own = mkdtempSync(join(tmpdir(), 'workflow-restart-'));
  const first = await startGateway([{ id: 'r1', numParallel: 2, models: ['llama3.2'] }], (c) => void (c.batch.dataDir = own), { routes: allRoutes });
  let second: Gateway | undefined;
  try {
    // `slow` hangs until the gateway stops; `quick` succeeds before.
    first.sim.node('r1').setFaults({ hang: { paths: ['/api/chat'] } });
    const post = await call(
      'POST',
      '/api/workflows',
      {
        workflow:
          'name: r\ntasks:\n  - { id: quick, method: llm/generate, params: { model: llama3.2, prompt: q } }\n  - { id: slow, method: llm/chat, params: { model: llama3.2, messages: [{ role: user, content: s }] } }\n  - { id: last, method: llm/generate, params: { model: llama3.2, prompt: "{{ tasks.slow.output }} {{ tasks.quick.output }}" } }\n',
      },
      first.url,
    );
    const id = post.json.id as string;
    const mid = await until(id, (x) => x.tasks.quick.status === 'succeeded' && x.tasks.slow.status === 'running', first.url);
    await first.gateway.close(200);
    first.sim.node('r1').clearFaults();
    // A new gateway over the same pool and data directory.
    second = new Gateway({
      factory: await (await import('@ollama-ring/balancer')).PipelineFactory.fromConfig({ ...first.config, batch: { ...first.config.batch, dataDir: own } }).start(),
      routes: allRoutes,
    });
    const addr = await second.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${addr.port}`;
    const r = await until(id, (x) => x.status !== 'running', base);
    expect(r.status).toBe('succeeded');
    expect(r.tasks.quick).toMatchObject({ status: 'succeeded', resumed: true, output: mid.tasks.quick.output });
    expect(r.tasks.slow).toMatchObject({ status: 'succeeded' });
    expect(r.tasks.last.status).toBe('succeeded');
  } finally {
    await second?.close(1_000);
    await first.gateway.close(200);
    await first.sim.close();
    rmSync(own, { recursive: true, force: true });
  }
});

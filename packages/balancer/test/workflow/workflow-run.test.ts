// The WorkflowRunner end to end: YAML workflows run through a real balancer over the emulator.
import { eventually, inFlight, startHarness, type Harness } from '../e2e/harness';
import { checkWorkflow, parseWorkflow, poolCatalog, resolveVars, type RunResults, type TaskEvent, WorkflowRunner } from '../../src';

let h: Harness;

beforeAll(async () => {
  h = await startHarness([
    { id: 'a', numParallel: 2, models: ['llama3.2', 'qwen3', 'nomic-embed-text'] },
    { id: 'b', numParallel: 2, models: ['llama3.2', 'qwen3', 'nomic-embed-text'] },
  ]);
});
afterAll(() => h.close());
afterEach(() => {
  for (const n of ['a', 'b']) h.sim.node(n).clearFaults();
});

async function run(
  yaml: string,
  o: { vars?: Record<string, string>; previous?: RunResults; during?: (r: WorkflowRunner) => void } = {},
): Promise<{ results: RunResults; events: string[] }> {
  const wf = parseWorkflow(yaml, 'flow.yaml');
  const vars = o.previous?.vars ?? resolveVars(wf, o.vars);
  checkWorkflow(wf, vars, poolCatalog(h.factory.getNodeRegistry().getAllNodes()));
  const runner = new WorkflowRunner(wf, { pipeline: () => h.factory.getPipeline(), vars, concurrency: 4, previous: o.previous });
  const events: string[] = [];
  runner.on('task-start', (e: TaskEvent) => events.push(`start ${e.id}`));
  runner.on('task-end', (e: TaskEvent) => events.push(`end ${e.id} ${e.result.status}`));
  o.during?.(runner);
  const results = await runner.run();
  await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 5_000, 'in-flight back to zero');
  return { results, events };
}

/** Inference requests the emulator has seen (probes and discovery left out). */
const inferences = () => h.sim.state().reduce((n, s) => n + (s.byRoute['POST /api/generate'] ?? 0) + (s.byRoute['POST /api/chat'] ?? 0) + (s.byRoute['POST /api/embed'] ?? 0), 0);

const chat = (id: string, content: string, more = '') => `
  - id: ${id}
    method: llm/chat
    params:
      model: llama3.2
      messages: [{ role: user, content: "${content}" }]
${more}`;

test('a diamond: the two middle tasks run side by side, the last starts only after both, and each records its node, tokens and timings', async () => {
  const { results, events } = await run(`
name: diamond
vars: { topic: tides }
tasks:
${chat('extract', 'facts about ${topic}')}
${chat('left', 'summarise {{ tasks.extract.output }}')}
${chat('right', 'classify {{ tasks.extract.output }}')}
${chat('report', 'report: {{ tasks.left.output }} / {{ tasks.right.output }}')}
`);
  expect(results.status).toBe('succeeded');
  for (const id of ['extract', 'left', 'right', 'report']) {
    const t = results.tasks[id];
    expect(t).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(['a', 'b']).toContain(t.node);
    expect(typeof t.output).toBe('string');
    expect((t.output as string).length).toBeGreaterThan(0);
    expect(t.tokens!.completion).toBeGreaterThan(0);
    expect(t.durationMs).toBeGreaterThanOrEqual(0);
  }
  // left and right both started before either ended; report started after both ended.
  const at = (e: string) => events.indexOf(e);
  expect(Math.max(at('start left'), at('start right'))).toBeLessThan(Math.min(at('end left succeeded'), at('end right succeeded')));
  expect(at('start report')).toBeGreaterThan(Math.max(at('end left succeeded'), at('end right succeeded')));
  expect(at('start left')).toBeGreaterThan(at('end extract succeeded'));
});

test('for_each fans a task out over a list from vars and gathers the answers as a list, which a later task reads', async () => {
  const { results } = await run(
    `
name: fan
vars: { cities: [Oslo, Lima, Pune] }
tasks:
  - id: describe
    method: llm/generate
    for_each: \${cities}
    params: { model: llama3.2, prompt: "describe {{ item }} (number {{ index }})" }
  - id: compare
    method: llm/generate
    params: { model: qwen3, prompt: "compare: {{ tasks.describe.output }}" }
`,
    { vars: { cities: '["Oslo","Lima","Pune","Kyiv"]' } },
  );
  expect(results.status).toBe('succeeded');
  const d = results.tasks.describe;
  expect(d.items).toHaveLength(4);
  expect(d.output).toHaveLength(4);
  for (const item of d.items!) expect(item).toMatchObject({ status: 'succeeded', attempts: 1 });
  expect(results.tasks.compare.status).toBe('succeeded');
});

test('a JSON answer is read by path in a later task, `when` runs or skips a task on it, and `for_each` takes a list from it', async () => {
  const { results } = await run(`
name: json
tasks:
  - id: classify
    method: llm/chat
    params:
      model: llama3.2
      messages: [{ role: user, content: classify this ticket }]
      format: { type: object, properties: { label: { type: string }, urgent: { type: boolean }, tags: { type: array } } }
  - id: per_tag
    method: llm/generate
    for_each: "{{ tasks.classify.json.tags }}"
    params: { model: llama3.2, prompt: "tag {{ item }}" }
  - id: per_label
    method: llm/generate
    for_each: "{{ tasks.classify.json.label }}"
    params: { model: llama3.2, prompt: "label {{ item }}" }
  - id: embed_label
    method: llm/embed
    params: { model: nomic-embed-text, input: "{{ tasks.classify.json.label }}" }
  - id: escalate
    method: llm/generate
    when: "{{ tasks.classify.json.urgent }}"
    params: { model: llama3.2, prompt: escalate }
  - id: file_it
    method: llm/generate
    when: "{{ tasks.classify.json.urgent }} != true"
    params: { model: llama3.2, prompt: file it }
  - id: never
    method: llm/generate
    when: "{{ tasks.classify.json.label }} == no-such-label"
    params: { model: llama3.2, prompt: never }
`);
  const c = results.tasks.classify;
  expect(c.status).toBe('succeeded');
  const json = c.json as { label: string; urgent: boolean };
  expect(typeof json.label).toBe('string');
  // The embedding of the label as rendered equals the emulator's embedding of that text.
  const direct = (await (await fetch(`${h.sim.nodes[0].url}/api/embed`, { method: 'POST', body: JSON.stringify({ model: 'nomic-embed-text', input: json.label }) })).json()) as {
    embeddings: number[][];
  };
  expect(results.tasks.embed_label.output).toEqual(direct.embeddings);
  expect(results.tasks.escalate.status).toBe(json.urgent ? 'succeeded' : 'skipped');
  expect(results.tasks.file_it.status).toBe(json.urgent ? 'skipped' : 'succeeded');
  expect(results.tasks.never).toMatchObject({ status: 'skipped', attempts: 0 });
  expect(results.tasks.never.reason).toMatch(/condition/);
  // for_each over a JSON list (the emulator's arrays are empty: no items, nothing sent), and over
  // something that is no list, which fails at run time.
  expect(results.tasks.per_tag).toMatchObject({ status: 'succeeded', output: [], items: [], attempts: 0 });
  expect(results.tasks.per_label).toMatchObject({ status: 'failed', error: { code: 'ERR_WORKFLOW_FOR_EACH' } });
  expect(results.status).toBe('failed');
});

const failing = `
name: partial
tasks:
${chat('first', 'hello')}
  - id: vectors
    method: llm/embed
    retries: 1
    params: { model: nomic-embed-text, input: "{{ tasks.first.output }}" }
  - id: after_vectors
    method: llm/generate
    params: { model: llama3.2, prompt: "use {{ tasks.vectors.output }}" }
${chat('independent', 'something else', '    depends_on: first')}
`;

test('a failing task (after its retries) skips its dependents, the others go on, and --resume reruns only what did not succeed', async () => {
  for (const n of ['a', 'b']) h.sim.node(n).setFaults({ failNext: { count: 1000, status: 500, message: 'embedding broke', paths: ['/api/embed'] } });
  const { results } = await run(failing);
  expect(results.status).toBe('failed');
  expect(results.tasks.vectors).toMatchObject({ status: 'failed', attempts: 2 });
  expect(results.tasks.vectors.error!.message).toMatch(/embedding broke/);
  expect(results.tasks.after_vectors).toMatchObject({ status: 'skipped', attempts: 0 });
  expect(results.tasks.after_vectors.reason).toMatch(/vectors/);
  expect(results.tasks.first.status).toBe('succeeded');
  expect(results.tasks.independent.status).toBe('succeeded');

  for (const n of ['a', 'b']) h.sim.node(n).clearFaults();
  const before = inferences();
  const again = await run(failing, { previous: JSON.parse(JSON.stringify(results)) as RunResults });
  expect(again.results.status).toBe('succeeded');
  expect(again.results.tasks.first).toEqual({ ...results.tasks.first, resumed: true });
  expect(again.results.tasks.independent).toEqual({ ...results.tasks.independent, resumed: true });
  expect(again.results.tasks.vectors).toMatchObject({ status: 'succeeded', attempts: 1 });
  expect(again.results.tasks.after_vectors.status).toBe('succeeded');
  expect(again.events).not.toContain('start first');
  // Two requests: the two tasks that had not succeeded.
  expect(inferences() - before).toBe(2);
});

test('retries: a task whose first attempt fails is tried again and succeeds', async () => {
  h.factory.getConfig().retry.maxRetries = 0;
  try {
    for (const n of ['a', 'b']) h.sim.node(n).setFaults({ failNext: { count: 1, status: 500, message: 'flaky', paths: ['/api/generate'] } });
    const { results } = await run(`
name: flaky
tasks:
  - id: once
    method: llm/generate
    retries: 2
    params: { model: llama3.2, prompt: try me }
`);
    expect(results.tasks.once).toMatchObject({ status: 'succeeded', attempts: 2 });
  } finally {
    h.factory.getConfig().retry.maxRetries = 3;
  }
});

test('a task past its timeout fails with ERR_WORKFLOW_TIMEOUT and its request is aborted', async () => {
  for (const n of ['a', 'b']) h.sim.node(n).setFaults({ hang: { paths: ['/api/generate'] } });
  const { results } = await run(`
name: slow
tasks:
  - id: stuck
    method: llm/generate
    timeout: 300ms
    params: { model: llama3.2, prompt: wait }
`);
  expect(results.tasks.stuck).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'ERR_WORKFLOW_TIMEOUT' } });
});

test('cancel stops new tasks and aborts the running ones upstream', async () => {
  for (const n of ['a', 'b']) h.sim.node(n).setFaults({ hang: { paths: ['/api/chat'] } });
  const { results } = await run(
    `
name: cancel
tasks:
${chat('one', 'a')}
${chat('two', 'b')}
${chat('three', '{{ tasks.one.output }}')}
`,
    {
      during: (r) =>
        r.on('task-start', () => {
          if (Object.values(r.results.tasks).filter((t) => t.status === 'running').length === 2) setTimeout(() => r.cancel(), 200);
        }),
    },
  );
  expect(results.status).toBe('cancelled');
  expect(results.tasks.one.status).toBe('cancelled');
  expect(results.tasks.two.status).toBe('cancelled');
  expect(results.tasks.three).toMatchObject({ status: 'cancelled', attempts: 0 });
  await eventually(() => h.sim.state().every((s) => s.inferenceInFlight === 0), 5_000, 'the emulator to see the aborts');
});

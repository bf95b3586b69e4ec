// Every check a workflow goes through before it runs: each error names the key and its line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkWorkflow, parseWorkflow, poolCatalog, resolveVars, WorkflowError, graphMermaid, graphText } from '../../src';

const POOL = poolCatalog([
  { id: 'a', models: ['llama3.2:latest', 'qwen3:latest'] },
  { id: 'b', models: ['nomic-embed-text:latest'] },
]);

/** The issues of a workflow that must not load, as `line: path: message`. */
function problems(yaml: string, vars: Record<string, string> = {}): string[] {
  try {
    const wf = parseWorkflow(yaml, 'flow.yaml');
    checkWorkflow(wf, resolveVars(wf, vars), POOL);
  } catch (e) {
    expect(e).toBeInstanceOf(WorkflowError);
    const err = e as WorkflowError;
    expect(err.code).toBe('ERR_WORKFLOW_INVALID');
    return err.issues.map((i) => `${i.line ?? '?'}: ${i.path}: ${i.message}`);
  }
  throw new Error('the workflow loaded');
}

const ok = (body: string) => `name: t\ntasks:\n  - id: a\n    method: llm/generate\n    params: { model: llama3.2, prompt: hi }\n${body}`;

test.each([
  ['a YAML syntax error', 'name: t\ntasks: [\n', /^3: .*/],
  ['a document that is not a mapping', '- just a list\n', /^1: : a workflow is a mapping with a `tasks` list/],
  ['no tasks', 'name: t\n', /tasks: is required/],
  ['an unknown key (a typo)', ok('  - id: b\n    method: llm/chat\n    depend_on: a\n    params: { model: llama3.2 }\n'), /^8: tasks\[1\]\.depend_on: unknown key/],
  [
    'an unknown method',
    ok('  - id: b\n    method: llm/complete\n    params: { model: llama3.2 }\n'),
    /^7: tasks\[1\]\.method: must be one of: llm\/chat, llm\/generate, llm\/embed/,
  ],
  ['a task without a model', ok('  - id: b\n    method: llm/chat\n    params: { messages: [] }\n'), /^8: tasks\[1\]\.params\.model: is required/],
  ['a task without id or name', ok('  - method: llm/chat\n    params: { model: llama3.2 }\n'), /^6: tasks\[1\]: a task needs an `id`/],
  ['two tasks with one id', ok('  - id: a\n    method: llm/chat\n    params: { model: llama3.2 }\n'), /^6: tasks\[1\]\.id: task id 'a' is also tasks\[0\]'s/],
  [
    'an unknown dependency',
    ok('  - id: b\n    method: llm/chat\n    depends_on: [a, nope]\n    params: { model: llama3.2 }\n'),
    /^8: tasks\[1\]\.depends_on\[1\]: unknown task 'nope'/,
  ],
  [
    'a template reading an unknown task',
    ok('  - id: b\n    method: llm/generate\n    params: { model: llama3.2, prompt: "{{ tasks.zz.output }}" }\n'),
    /^8: tasks\[1\]\.params\.prompt: .*unknown task 'zz'/,
  ],
  [
    'JSON read from a task that asks for none',
    ok('  - id: b\n    method: llm/generate\n    params: { model: llama3.2, prompt: "{{ tasks.a.json.x }}" }\n'),
    /does not ask for JSON output/,
  ],
  [
    'a variable with no value',
    ok('  - id: b\n    method: llm/generate\n    params: { model: llama3.2, prompt: "${who}" }\n'),
    /^8: tasks\[1\]\.params\.prompt: variable 'who' has no value/,
  ],
  ['item outside for_each', ok('  - id: b\n    method: llm/generate\n    params: { model: llama3.2, prompt: "{{ item }}" }\n'), /only for a task with for_each/],
  ['a template it does not know', ok('  - id: b\n    method: llm/generate\n    params: { model: llama3.2, prompt: "{{ steps.a }}" }\n'), /is not a template this knows/],
  [
    'for_each over a variable that is no list',
    'vars: { n: 3 }\n' + ok('  - id: b\n    method: llm/generate\n    for_each: ${n}\n    params: { model: llama3.2, prompt: "{{ item }}" }\n'),
    /^9: tasks\[1\]\.for_each: variable 'n' is not a list/,
  ],
  [
    "for_each over a task's text",
    ok('  - id: b\n    method: llm/generate\n    for_each: "{{ tasks.a.output }}"\n    params: { model: llama3.2, prompt: "{{ item }}" }\n'),
    /for_each takes a list from its JSON/,
  ],
  ['a bad timeout', ok('  - id: b\n    method: llm/generate\n    timeout: soon\n    params: { model: llama3.2, prompt: x }\n'), /^8: tasks\[1\]\.timeout: must be seconds/],
  ['a bad `when`', ok('  - id: b\n    method: llm/generate\n    when: [1]\n    params: { model: llama3.2, prompt: x }\n'), /^8: tasks\[1\]\.when: must be a condition/],
  [
    'a comparison without a side',
    ok('  - id: b\n    method: llm/generate\n    when: "{{ tasks.a.output }} =="\n    params: { model: llama3.2, prompt: x }\n'),
    /needs a value on each side/,
  ],
  [
    'a cycle',
    ok(
      '  - id: b\n    method: llm/generate\n    depends_on: c\n    params: { model: llama3.2, prompt: x }\n  - id: c\n    method: llm/generate\n    params: { model: llama3.2, prompt: "{{ tasks.b.output }}" }\n',
    ),
    /in a cycle: (b -> c -> b|c -> b -> c)/,
  ],
  ['a task depending on itself', ok('  - id: b\n    method: llm/generate\n    depends_on: b\n    params: { model: llama3.2, prompt: x }\n'), /depends on itself/],
  [
    'a model no node has',
    ok('  - id: b\n    method: llm/generate\n    params: { model: mixtral, prompt: x }\n'),
    /^8: tasks\[1\]\.params\.model: model 'mixtral' is on no node of the pool \(nodes: a, b\)/,
  ],
  [
    'a model from a variable that no node has',
    'vars: { m: phi }\n' + ok('  - id: b\n    method: llm/generate\n    params: { model: "${m}", prompt: x }\n'),
    /model 'phi' is on no node/,
  ],
  ['both pool and providers', ok('pool: [{ url: "http://x:11434" }]\nproviders: { ollama: { instances: [] } }\n'), /both `pool` and `providers.ollama.instances`/],
  ['an unknown top-level key', ok('workers: 3\n'), /^6: workers: unknown key/],
  ['a bad class', ok('class: urgent\n'), /class: must be one of: interactive, batch/],
])('%s', (_what, yaml, want) => {
  const found = problems(yaml);
  expect(found.some((p) => want.test(p))).toBe(true);
});

test('every problem is listed at once, in line order, and the message names the file', () => {
  const yaml = ok('  - id: b\n    method: llm/nope\n    params: { model: llama3.2 }\n  - id: c\n    retries: -1\n    method: llm/chat\n    params: { model: llama3.2 }\n');
  let err: WorkflowError | undefined;
  try {
    parseWorkflow(yaml, 'flow.yaml');
  } catch (e) {
    err = e as WorkflowError;
  }
  expect(err!.issues.map((i) => i.line)).toEqual([7, 10]);
  expect(err!.message).toMatch(/flow\.yaml:7: tasks\[1\]\.method/);
});

test('a fallback_model the pool has is enough for a model it has not', () => {
  const wf = parseWorkflow(ok('  - id: b\n    method: llm/chat\n    params: { model: mixtral, fallback_model: qwen3, messages: [] }\n'));
  expect(() => checkWorkflow(wf, resolveVars(wf), POOL)).not.toThrow();
});

test('vars: --var beats the environment, which beats the file; a JSON list given as text is a list', () => {
  const wf = parseWorkflow('vars: { a: file, b: file, c: file }\n' + ok(''));
  const vars = resolveVars(wf, { a: 'flag', l: '["x","y"]' }, { OLLAMA_RING_VAR_a: 'env', OLLAMA_RING_VAR_b: 'env' });
  expect(vars).toEqual({ a: 'flag', b: 'env', c: 'file', l: ['x', 'y'] });
});

test("implicit dependencies come from templates; seed 001's names become ids; the graph prints as text and Mermaid", () => {
  const wf = parseWorkflow(`
name: "Seed form"
tasks:
  - name: "Quick Analysis"
    protocol: "llm/v1"
    method: "llm/chat"
    params: { model: llama3.2, messages: [{ role: user, content: hi }] }
  - name: "Deep Analysis"
    protocol: "llm/v1"
    method: "llm/chat"
    params: { model: llama3.2, instance_tags: [gpu], require_gpu: true, messages: [{ role: user, content: "{{ tasks.quick_analysis.output }}" }] }
`);
  checkWorkflow(wf, resolveVars(wf), POOL);
  expect(wf.tasks.map((t) => [t.id, t.needs])).toEqual([
    ['quick_analysis', []],
    ['deep_analysis', ['quick_analysis']],
  ]);
  expect(graphText(wf)).toContain('deep_analysis  [llm/chat llama3.2]  <- quick_analysis');
  expect(graphMermaid(wf)).toContain('quick_analysis --> deep_analysis');
});

test("docs/workflows.md's example loads and passes every check, with the dependencies its templates imply", () => {
  const doc = readFileSync(join(__dirname, '..', '..', '..', '..', 'docs', 'workflows.md'), 'utf8');
  const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)![1];
  const wf = parseWorkflow(yaml, 'docs-example.yaml');
  checkWorkflow(wf, resolveVars(wf), POOL);
  expect(Object.fromEntries(wf.tasks.map((t) => [t.id, t.needs.sort()]))).toEqual({
    classify: [],
    summary: [],
    translate: ['summary'],
    page_on_call: ['classify', 'summary'],
    report: ['classify', 'summary', 'translate'],
  });
});

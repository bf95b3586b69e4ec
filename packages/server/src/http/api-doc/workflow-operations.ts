import type { OperationDoc } from './operation-types';
import { arr, int, map, num, obj, oneOf, ref, type Schema, str } from './schema-kit';

// Workflow runs (`workflow-routes.ts`), and their bodies (`balancer/src/workflow/types.ts`).

const TASK_STATES = ['pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled'];
const error = obj({ code: str(), message: str() }, ['code', 'message']);
const tokens = obj({ prompt: int(), completion: int() }, ['prompt', 'completion']);

/** Component schemas of the workflow API, by name. */
export const WORKFLOW_SCHEMAS: Record<string, Schema> = {
  WorkflowRequest: obj(
    {
      workflow: oneOf(str('The workflow file as YAML (or JSON) text'), obj({}, [], 'The workflow document as JSON')),
      vars: map({}, 'Values of its variables, over the defaults of its `vars`'),
      concurrency: int('Requests in flight at once (default: the pool’s slot count)'),
      class: { type: 'string', enum: ['interactive', 'batch'], description: 'The request class of its requests (default: the file’s `class`, else interactive)' },
      resume: ref('WorkflowRun'),
    },
    ['workflow'],
  ),
  WorkflowTask: obj(
    {
      status: { type: 'string', enum: TASK_STATES },
      reason: str('Why it was skipped or cancelled'),
      output: { description: 'The answer’s text (a list, one per item, for `for_each`)' },
      json: { description: 'The answer parsed, when the task asked for JSON' },
      node: str('The node that answered'),
      startedAt: str(),
      endedAt: str(),
      durationMs: num(),
      tokens,
      attempts: int(),
      error,
      items: arr(obj({}), 'One entry per item of a `for_each` task'),
      resumed: { type: 'boolean', description: 'Kept from the run it resumed' },
    },
    ['status', 'attempts'],
  ),
  WorkflowRun: obj(
    {
      id: str(),
      runId: str(),
      workflow: str('Its name'),
      status: { type: 'string', enum: ['running', 'succeeded', 'failed', 'cancelled'] },
      class: str(),
      vars: map({}),
      startedAt: str(),
      endedAt: str(),
      durationMs: num(),
      tasks: map(ref('WorkflowTask')),
    },
    ['status', 'tasks'],
  ),
};

const op = (summary: string, ok: OperationDoc['ok'], more: Partial<OperationDoc> = {}): OperationDoc => ({ summary, tag: 'Workflows', access: 'client', ok, ...more });
const noRun = { 404: 'No such run, or another API key made it' };

/** The workflow routes. */
export const WORKFLOW_OPERATIONS: Readonly<Record<string, Partial<Record<'get' | 'post' | 'delete', OperationDoc>>>> = {
  '/api/workflows': {
    post: op(
      'Start a workflow run',
      { 201: { description: 'The run, started', schema: ref('WorkflowRun') } },
      {
        description:
          'Checks the workflow against the pool (schema, graph, variables, models) before anything runs, then runs its tasks through the pipeline, each as soon as the tasks it needs have ended. Runs are kept under `batch.dataDir` and resume after a gateway restart.',
        body: ref('WorkflowRequest'),
        failures: { 400: 'The workflow has errors: `{error, code: ERR_WORKFLOW_INVALID, issues: [{path, message, line}]}`, each issue naming a key and its line' },
      },
    ),
  },
  '/api/workflows/:id': {
    get: op('A run’s state and results', { 200: { description: 'The run', schema: ref('WorkflowRun') } }, { failures: noRun }),
    delete: op(
      'Cancel a run: no task starts, running ones are aborted upstream',
      { 202: { description: 'The run, cancelling', schema: ref('WorkflowRun') } },
      { failures: { ...noRun, 409: 'It has already ended' } },
    ),
  },
};

import type { RequestClass } from '../request-class';

/** The calls a task can make, and the Ollama route each goes to. */
export const WORKFLOW_METHODS = ['llm/chat', 'llm/generate', 'llm/embed'] as const;
export type WorkflowMethod = (typeof WORKFLOW_METHODS)[number];

/** One task of a workflow, as loaded (templates not yet rendered). */
export interface WorkflowTask {
  /** `id`, or seed 001's `name` made into an identifier (`Quick Analysis` → `quick_analysis`). */
  id: string;
  /** The name as written, when it was given. */
  name?: string;
  /** Where it is in the file's `tasks` list (errors and lines point there). */
  index: number;
  method: WorkflowMethod;
  /** The request body (model, messages/prompt/input, options, format, routing hints), templates unrendered. */
  params: Record<string, unknown>;
  /** `depends_on` as written. */
  dependsOn: string[];
  /** Every task it waits for: `depends_on` and the tasks its templates read. Filled by `checkWorkflow`. */
  needs: string[];
  /** Extra attempts after a failed one. */
  retries: number;
  /** Each attempt's limit, in ms. */
  timeoutMs?: number;
  /** Runs only when this holds (a template, optionally `A == B` / `A != B`). */
  when?: string | boolean;
  /** A list, or a template giving one: the task runs once per item. */
  forEach?: unknown;
  /** `params.format` is set: the answer is JSON, readable as `tasks.<id>.json`. */
  jsonOutput: boolean;
}

/** A loaded workflow. */
export interface Workflow {
  name: string;
  description?: string;
  /** Defaults of the variables. */
  vars: Record<string, unknown>;
  /** A pool of its own (a config input: `{ nodes: [...] }`), from `pool` or seed 001's `providers.ollama.instances`. */
  pool?: Record<string, unknown>;
  /** Requests in flight at once, when the file sets it. */
  concurrency?: number;
  /** The class its requests are of, when the file sets it. */
  requestClass?: RequestClass;
  tasks: WorkflowTask[];
  /** The file it came from, for messages. */
  file?: string;
  /** The line of a key path of the document (for errors found after loading). */
  lineOf(segs: readonly (string | number)[]): number | undefined;
}

export type TaskStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface TokenCounts {
  prompt: number;
  completion: number;
}

/** One request a task made (a task with `for_each` makes one per item). */
export interface CallResult {
  status: 'succeeded' | 'failed' | 'cancelled';
  output?: unknown;
  json?: unknown;
  node?: string;
  attempts: number;
  tokens: TokenCounts;
  queueMs?: number;
  durationMs: number;
  error?: { code: string; message: string };
}

/** How one task ended (or where it is), as the results file holds it. */
export interface TaskResult {
  status: TaskStatus;
  /** Why it was skipped or cancelled. */
  reason?: string;
  /** The answer's text (a list, one per item, for `for_each`). */
  output?: unknown;
  /** The answer parsed, when the task asked for JSON. */
  json?: unknown;
  /** The node that answered (the last one, for `for_each`; each item has its own). */
  node?: string;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  tokens?: TokenCounts;
  attempts: number;
  error?: { code: string; message: string };
  items?: CallResult[];
  /** Kept from the results a `--resume` started from, not run again. */
  resumed?: boolean;
}

/** A run's results file. */
export interface RunResults {
  version: 1;
  workflow: string;
  runId: string;
  status: RunStatus;
  requestClass: RequestClass;
  /** The variables as the run used them: a resume uses these again. */
  vars: Record<string, unknown>;
  startedAt: string;
  endedAt?: string;
  durationMs?: number;
  tasks: Record<string, TaskResult>;
}

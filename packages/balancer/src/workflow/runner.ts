/**
 * `WorkflowRunner`: runs a checked workflow's tasks through a pipeline. A task starts the moment
 * every task it needs has ended (no waves); requests in flight are bounded by `concurrency`, and
 * when more are ready than that, the one with the heaviest chain of work after it goes first.
 */
import { EventEmitter, setMaxListeners } from 'node:events';
import { randomBytes } from 'node:crypto';
import { BalancerError, RequestAbortedError } from '../errors';
import type { WorkflowMetrics } from '../metrics-workflow';
import type { RequestClass } from '../request-class';
import { TaskOutputError, TaskTimeoutError } from './errors';
import { ranks } from './graph';
import { type CallAnswer, callPipeline, outputOf, type WorkflowPipeline } from './task-call';
import { sleepUnless } from '../until-signal';
import { conditionHolds, render, renderString, type TemplateScope } from './template';
import type { CallResult, RunResults, TaskResult, Workflow, WorkflowTask } from './types';

export interface WorkflowRunnerOptions {
  /** The pipeline (a function is read at each request, so a reloaded gateway's is used). */
  pipeline: WorkflowPipeline | (() => WorkflowPipeline);
  /** The variables, resolved (`resolveVars`); a resume uses the previous run's. */
  vars: Record<string, unknown>;
  /** Requests in flight at once. Default: the file's `concurrency`, else 4. */
  concurrency?: number;
  /** `interactive` (the default, or the file's `class`) or `batch`. */
  requestClass?: RequestClass;
  /** The client the requests are counted against (per-client limits and fair queueing). */
  clientKey?: string;
  /** A previous run's results: its succeeded tasks are kept, everything else runs again. */
  previous?: RunResults;
  metrics?: WorkflowMetrics;
  runId?: string;
}

/** What a `task-start` or `task-end` event carries. */
export interface TaskEvent {
  id: string;
  result: TaskResult;
}

interface Unit {
  task: WorkflowTask;
  item: number;
  rank: number;
  start(): void;
}

const BACKOFF_MS = 200;

/**
 * @example
 * const wf = loadWorkflowFile('flow.yaml');
 * const vars = resolveVars(wf);
 * checkWorkflow(wf, vars);
 * const runner = new WorkflowRunner(wf, { pipeline: factory.getPipeline(), vars });
 * runner.on('task-end', (e) => console.log(e.id, e.result.status));
 * const results = await runner.run();
 */
export class WorkflowRunner extends EventEmitter<{ 'task-start': [TaskEvent]; 'task-end': [TaskEvent]; change: [RunResults] }> {
  readonly results: RunResults;
  private readonly ac = new AbortController();
  private readonly rank: Map<string, number>;
  private readonly byId: Map<string, WorkflowTask>;
  private readonly queue: Unit[] = [];
  private inFlight = 0;
  private readonly concurrency: number;
  private finished: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly wf: Workflow,
    private readonly opts: WorkflowRunnerOptions,
  ) {
    super();
    // Every request in flight listens on the run's signal (its cancel): as many as `concurrency`.
    setMaxListeners(0, this.ac.signal);
    this.rank = ranks(wf.tasks);
    this.byId = new Map(wf.tasks.map((t) => [t.id, t]));
    this.concurrency = Math.max(1, opts.concurrency ?? wf.concurrency ?? 4);
    const tasks: Record<string, TaskResult> = {};
    for (const t of wf.tasks) {
      const prev = opts.previous?.tasks[t.id];
      tasks[t.id] = prev?.status === 'succeeded' ? { ...prev, resumed: true } : { status: 'pending', attempts: 0 };
    }
    this.results = {
      version: 1,
      workflow: wf.name,
      runId: opts.runId ?? `wf_${Date.now().toString(16)}${randomBytes(6).toString('hex')}`,
      status: 'running',
      requestClass: opts.requestClass ?? wf.requestClass ?? 'interactive',
      vars: opts.vars,
      startedAt: new Date().toISOString(),
      tasks,
    };
  }

  /** Cancels: no task starts from now on, and the running ones are aborted upstream. */
  cancel(reason = 'the workflow was cancelled'): void {
    if (!this.ac.signal.aborted) this.ac.abort(new RequestAbortedError(reason));
  }

  /**
   * Stops without cancelling (a gateway closing): no task or request starts from now on, the
   * running requests finish, and the run resolves still `running`, to be resumed from its results.
   */
  stop(): void {
    this.stopped = true;
    this.advance();
  }

  get cancelled(): boolean {
    return this.ac.signal.aborted;
  }

  /** Runs to the end (every task succeeded, failed, skipped or cancelled) and resolves with the results. */
  async run(signal?: AbortSignal): Promise<RunResults> {
    const onAbort = () => this.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) this.cancel();
    const t0 = Date.now();
    const done = new Promise<void>((r) => (this.finished = r));
    this.ac.signal.addEventListener('abort', () => this.advance(), { once: true });
    this.advance();
    await done;
    signal?.removeEventListener('abort', onAbort);
    const states = Object.values(this.results.tasks).map((t) => t.status);
    if (this.stopped && states.some((s) => s === 'pending' || s === 'running')) return this.results;
    this.results.status = states.includes('cancelled') ? 'cancelled' : states.includes('failed') ? 'failed' : 'succeeded';
    this.results.endedAt = new Date().toISOString();
    this.results.durationMs = Date.now() - t0;
    this.opts.metrics?.runEnded(this.results.status);
    this.emit('change', this.results);
    return this.results;
  }

  /** Settles what can be settled (skips, cancellations), starts every task that is ready, and ends the run when nothing is left. */
  private advance(): void {
    let moved = true;
    while (moved) {
      moved = false;
      for (const t of this.wf.tasks) {
        const r = this.results.tasks[t.id];
        if (r.status !== 'pending' || this.stopped) continue;
        if (this.ac.signal.aborted) {
          this.end(t, { status: 'cancelled', reason: 'the run was cancelled before it started', attempts: 0 });
          moved = true;
          continue;
        }
        const deps = t.needs.map((n) => [n, this.results.tasks[n].status] as const);
        if (deps.some(([, s]) => s === 'pending' || s === 'running')) continue;
        const bad = deps.find(([, s]) => s !== 'succeeded');
        moved = true;
        if (bad) this.end(t, { status: 'skipped', reason: `needs '${bad[0]}', which ${bad[1] === 'skipped' ? 'was skipped' : bad[1]}`, attempts: 0 });
        else this.begin(t);
      }
    }
    this.pump();
    if (this.stopped && this.inFlight === 0) this.finished?.();
    else if (this.inFlight === 0 && this.queue.length === 0 && Object.values(this.results.tasks).every((r) => r.status !== 'pending' && r.status !== 'running')) this.finished?.();
  }

  private scope(item?: unknown, index?: number): TemplateScope {
    return { vars: this.opts.vars, task: (id) => this.results.tasks[id], item, index };
  }

  /** A ready task: its condition, its items, then one unit of work per item in the queue. */
  private begin(t: WorkflowTask): void {
    const r = this.results.tasks[t.id];
    let items: unknown[] | undefined;
    try {
      if (t.when !== undefined && !conditionHolds(t.when, this.scope())) {
        return this.end(t, { status: 'skipped', reason: `its condition does not hold: ${String(t.when)}`, attempts: 0 });
      }
      if (t.forEach !== undefined) {
        const list = typeof t.forEach === 'string' ? renderString(t.forEach, this.scope()) : render(t.forEach, this.scope());
        if (!Array.isArray(list)) throw new BalancerError('ERR_WORKFLOW_FOR_EACH', 400, `for_each did not give a list (got ${JSON.stringify(list) ?? 'nothing'})`);
        items = list;
      }
    } catch (e) {
      const err = e instanceof BalancerError ? e : new BalancerError('ERR_INTERNAL', 500, String(e));
      return this.end(t, { status: 'failed', attempts: 0, error: { code: err.code, message: err.message } });
    }
    r.status = 'running';
    r.startedAt = new Date().toISOString();
    this.opts.metrics?.taskStarted();
    this.emit('task-start', { id: t.id, result: r });
    this.emit('change', this.results);
    const calls: CallResult[] = [];
    const n = items?.length ?? 1;
    if (n === 0) return this.finishTask(t, [], items);
    let left = n;
    for (let i = 0; i < n; i++) {
      this.queue.push({
        task: t,
        item: i,
        rank: this.rank.get(t.id) ?? 0,
        start: () => {
          this.inFlight++;
          void this.runCall(t, items?.[i], items ? i : undefined).then((c) => {
            calls[i] = c;
            this.inFlight--;
            if (--left === 0) this.finishTask(t, calls, items);
            else this.advance();
          });
        },
      });
    }
    // Heaviest chain first; among equals, the file's order, then the item's.
    this.queue.sort((a, b) => b.rank - a.rank || a.task.index - b.task.index || a.item - b.item);
  }

  private pump(): void {
    while (!this.stopped && this.inFlight < this.concurrency && this.queue.length > 0) this.queue.shift()!.start();
  }

  /** One request of a task, with its retries and each attempt's timeout. */
  private async runCall(t: WorkflowTask, item: unknown, index: number | undefined): Promise<CallResult> {
    const t0 = Date.now();
    const r = this.results.tasks[t.id];
    const tokens = { prompt: 0, completion: 0 };
    let last: CallAnswer | undefined;
    let attempts = 0;
    for (;;) {
      if (this.ac.signal.aborted || (this.stopped && attempts > 0)) break;
      attempts++;
      r.attempts++;
      const body = render(t.params, this.scope(item, index)) as Record<string, unknown>;
      const timeout = t.timeoutMs !== undefined ? AbortSignal.timeout(t.timeoutMs) : undefined;
      const signal = timeout ? AbortSignal.any([this.ac.signal, timeout]) : this.ac.signal;
      last = await callPipeline(() => this.pipeline(), t.method, body, {
        signal,
        requestClass: this.results.requestClass,
        clientKey: this.opts.clientKey,
        onNode: (node) => void (r.node = node),
      });
      if (!last.ok && timeout?.aborted && !this.ac.signal.aborted) last = { ok: false, node: last.node, error: new TaskTimeoutError(t.timeoutMs!) };
      if (last.ok) {
        tokens.prompt += last.tokens.prompt;
        tokens.completion += last.tokens.completion;
        const output = outputOf(t.method, last.body);
        if (!t.jsonOutput) return { status: 'succeeded', output, node: last.node, attempts, tokens, queueMs: last.queueMs, durationMs: Date.now() - t0 };
        try {
          const json = typeof output === 'string' ? (JSON.parse(output) as unknown) : output;
          return { status: 'succeeded', output, json, node: last.node, attempts, tokens, queueMs: last.queueMs, durationMs: Date.now() - t0 };
        } catch {
          last = { ok: false, node: last.node, error: new TaskOutputError(`the answer is not JSON: ${String(output).slice(0, 80)}`) };
        }
      }
      if (this.ac.signal.aborted || attempts > t.retries) break;
      await sleepUnless(Math.min(BACKOFF_MS * 2 ** (attempts - 1), 5_000), this.ac.signal);
    }
    const error = last && !last.ok ? last.error : new RequestAbortedError('the workflow was cancelled');
    const status = this.ac.signal.aborted ? 'cancelled' : 'failed';
    return { status, node: last?.node, attempts, tokens, durationMs: Date.now() - t0, error: { code: error.code, message: error.message } };
  }

  private pipeline(): WorkflowPipeline {
    const p = this.opts.pipeline;
    return typeof p === 'function' ? p() : p;
  }

  /** Gathers a task's calls into its result. */
  private finishTask(t: WorkflowTask, calls: CallResult[], items: unknown[] | undefined): void {
    const r = this.results.tasks[t.id];
    const status = calls.some((c) => c.status === 'cancelled') ? 'cancelled' : calls.some((c) => c.status === 'failed') ? 'failed' : 'succeeded';
    const tokens = { prompt: 0, completion: 0 };
    for (const c of calls) {
      tokens.prompt += c.tokens.prompt;
      tokens.completion += c.tokens.completion;
    }
    const firstBad = calls.find((c) => c.status !== 'succeeded');
    const result: TaskResult = { ...r, status, tokens, attempts: r.attempts, node: calls[calls.length - 1]?.node ?? r.node };
    if (items) {
      result.items = calls;
      result.output = calls.map((c) => c.output);
      if (t.jsonOutput) result.json = calls.map((c) => c.json);
    } else if (calls[0]) {
      result.output = calls[0].output;
      if (t.jsonOutput) result.json = calls[0].json;
    }
    if (firstBad?.error) result.error = firstBad.error;
    if (status === 'cancelled') result.reason = 'the run was cancelled while it ran';
    this.end(t, result);
  }

  private end(t: WorkflowTask, result: TaskResult): void {
    const wasRunning = this.results.tasks[t.id].status === 'running';
    const now = new Date();
    if (wasRunning) {
      result.endedAt = now.toISOString();
      result.durationMs = now.getTime() - Date.parse(result.startedAt!);
    }
    this.results.tasks[t.id] = result;
    const state = result.status as 'succeeded' | 'failed' | 'skipped' | 'cancelled';
    this.opts.metrics?.taskEnded(state, wasRunning ? result.durationMs! / 1000 : undefined, wasRunning);
    this.emit('task-end', { id: t.id, result });
    this.emit('change', this.results);
    this.advance();
  }
}

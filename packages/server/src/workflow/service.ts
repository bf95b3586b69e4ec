/**
 * The gateway's workflow runs: `POST /api/workflows` checks a workflow against the gateway's pool
 * and starts it; its record is saved at each task's end, so that a run the gateway's stop cut short
 * resumes at the next start (its succeeded tasks kept, the rest run again, with the same variables).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  checkWorkflow,
  type NodeSnapshot,
  parseWorkflow,
  poolCatalog,
  type RequestClass,
  resolveVars,
  type RunResults,
  type Workflow,
  WorkflowError,
  type WorkflowMetrics,
  workflowOf,
  type WorkflowPipeline,
  WorkflowRunner,
} from '@ollama-ring/balancer';
import { type WorkflowRecord, WorkflowStore } from './store';

export interface WorkflowServiceOptions {
  /** `<batch.dataDir>/workflows`. */
  dir: string;
  /** `batch.retentionMs`, read at each sweep. */
  retentionMs: () => number;
  pipeline: () => WorkflowPipeline;
  /** The pool's nodes, for the model check. */
  nodes: () => NodeSnapshot[];
  /** Requests in flight per run when the request does not say (the pool's slots). */
  concurrency: () => number;
  clientKeyOf: (owner: string) => string | undefined;
  metrics: () => WorkflowMetrics | undefined;
  logger: Logger;
}

/** What `POST /api/workflows` takes. */
export interface WorkflowRequest {
  /** The workflow: YAML text, or the document as JSON. */
  workflow: string | Record<string, unknown>;
  /** Values for its variables (over the file's defaults). */
  vars?: Record<string, unknown>;
  concurrency?: number;
  class?: RequestClass;
  /** A previous run's results: its succeeded tasks are kept, its variables used again. */
  resume?: RunResults;
}

export class WorkflowService {
  private readonly running = new Map<string, WorkflowRunner>();
  private readonly done = new Set<Promise<void>>();
  private closing = false;

  private constructor(
    readonly store: WorkflowStore,
    private readonly o: WorkflowServiceOptions,
  ) {}

  static async open(o: WorkflowServiceOptions): Promise<WorkflowService> {
    const s = new WorkflowService(await WorkflowStore.open(o.dir), o);
    await s.store.sweep(Date.now(), o.retentionMs()).catch((e: unknown) => o.logger.warn({ err: e }, 'workflow retention sweep failed'));
    for (const rec of s.store.runs.values()) {
      if (rec.results.status !== 'running') continue;
      try {
        s.start(rec, s.parse(rec.workflow), rec.results.vars, rec.results);
        o.logger.info({ workflow: rec.id }, 'workflow run resumed');
      } catch (e) {
        o.logger.error({ err: e, workflow: rec.id }, 'a stored workflow run could not be resumed');
      }
    }
    return s;
  }

  /** Checks the workflow against the pool and starts it; throws `WorkflowError` before anything runs. */
  create(owner: string, req: WorkflowRequest): WorkflowRecord {
    if (this.closing) throw new WorkflowError('the gateway is shutting down');
    const wf = this.parse(req.workflow);
    const vars = req.resume?.vars ?? resolveVars(wf, req.vars ?? {});
    checkWorkflow(wf, vars, poolCatalog(this.o.nodes()));
    const id = `wf_${Date.now().toString(16).padStart(12, '0')}${randomBytes(8).toString('hex')}`;
    const requestClass = req.class ?? wf.requestClass ?? 'interactive';
    const rec = { id, owner, created_at: Math.floor(Date.now() / 1000), workflow: req.workflow, concurrency: req.concurrency ?? wf.concurrency, requestClass } as WorkflowRecord;
    this.start(rec, wf, vars, req.resume);
    return rec;
  }

  get(id: string): WorkflowRecord | undefined {
    return this.store.runs.get(id);
  }

  /** Cancels a run: no task starts, running ones are aborted upstream. False when it has already ended. */
  cancel(id: string): boolean {
    const r = this.running.get(id);
    if (!r) return false;
    r.cancel('cancelled through the API');
    return true;
  }

  /** The gateway is closing: no task starts from now on; running requests drain with the pipeline, and the runs resume at the next start. */
  stopping(): void {
    this.closing = true;
    for (const r of this.running.values()) r.stop();
  }

  async close(): Promise<void> {
    this.stopping();
    await Promise.all(this.done);
    await this.store.flush();
  }

  private parse(doc: string | Record<string, unknown>): Workflow {
    return typeof doc === 'string' ? parseWorkflow(doc, 'workflow') : workflowOf(doc, 'workflow');
  }

  private start(rec: WorkflowRecord, wf: Workflow, vars: Record<string, unknown>, previous: RunResults | undefined): void {
    const runner = new WorkflowRunner(wf, {
      pipeline: this.o.pipeline,
      vars,
      requestClass: rec.requestClass,
      concurrency: rec.concurrency ?? this.o.concurrency(),
      clientKey: this.o.clientKeyOf(rec.owner),
      metrics: this.o.metrics(),
      previous,
      runId: rec.id,
    });
    rec.results = runner.results;
    this.running.set(rec.id, runner);
    const save = () => void this.store.save(rec).catch((e: unknown) => this.o.logger.error({ err: e, workflow: rec.id }, 'a workflow record could not be saved'));
    runner.on('change', save);
    save();
    const p = runner
      .run()
      .then(save, (e: unknown) => this.o.logger.error({ err: e, workflow: rec.id }, 'workflow run failed'))
      .finally(() => {
        this.running.delete(rec.id);
        this.done.delete(p);
      });
    this.done.add(p);
  }
}

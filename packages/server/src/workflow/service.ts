/**
 * The gateway's workflow runs: `POST /api/workflows` checks a workflow against the gateway's pool
 * and starts it; its record is saved at each task's end, so that a run the gateway's stop cut short
 * resumes at the next start (its succeeded tasks kept, the rest run again, with the same variables).
 * With replicas sharing the directory (`leases`), a run is run by the replica holding its lease
 * (`JobClaims`), and one whose replica died is resumed by another in the same way: the tasks that
 * were running there run again.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import {
  type JobLease,
  JobLeaseLostError,
  type JobLeasePort,
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
import { fence, JobClaims } from '../batch/job-claims';
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
  /** Replicas share the directory (`state.backend: redis`): each run is run by the holder of its lease. */
  leases?: JobLeasePort;
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
  private readonly claims: JobClaims | undefined;

  private constructor(
    readonly store: WorkflowStore,
    private readonly o: WorkflowServiceOptions,
  ) {
    if (!o.leases) return;
    store.keep = (id) => this.running.has(id);
    this.claims = new JobClaims({
      leases: o.leases,
      kind: 'workflow',
      unfinished: async () => {
        await store.refresh();
        return [...store.runs.values()].filter((r) => r.results.status === 'running').map((r) => r.id);
      },
      running: (id) => this.running.has(id),
      take: (id, lease) => this.take(id, lease),
      onNotice: (id, what) => {
        if (what === 'cancel') this.running.get(id)?.cancel('cancelled through the API');
      },
      eachRound: async () => {
        for (const [id, r] of [...this.running]) if (!r.cancelled && (await store.cancelAsked(id))) r.cancel('cancelled through the API');
      },
      logger: o.logger,
    });
  }

  static async open(o: WorkflowServiceOptions): Promise<WorkflowService> {
    const s = new WorkflowService(await WorkflowStore.open(o.dir, o.leases !== undefined), o);
    await s.store.sweep(Date.now(), o.retentionMs()).catch((e: unknown) => o.logger.warn({ err: e }, 'workflow retention sweep failed'));
    if (s.claims) {
      s.claims.start();
      return s;
    }
    for (const rec of s.store.runs.values()) {
      if (rec.results.status !== 'running') continue;
      try {
        void s.start(rec, s.parse(rec.workflow), rec.results.vars, rec.results);
        o.logger.info({ workflow: rec.id }, 'workflow run resumed');
      } catch (e) {
        o.logger.error({ err: e, workflow: rec.id }, 'a stored workflow run could not be resumed');
      }
    }
    return s;
  }

  /** Checks the workflow against the pool and starts it; throws `WorkflowError` before anything runs. */
  async create(owner: string, req: WorkflowRequest): Promise<WorkflowRecord> {
    if (this.closing) throw new WorkflowError('the gateway is shutting down');
    const wf = this.parse(req.workflow);
    const vars = req.resume?.vars ?? resolveVars(wf, req.vars ?? {});
    checkWorkflow(wf, vars, poolCatalog(this.o.nodes()));
    const id = `wf_${Date.now().toString(16).padStart(12, '0')}${randomBytes(8).toString('hex')}`;
    const requestClass = req.class ?? wf.requestClass ?? 'interactive';
    const rec = { id, owner, created_at: Math.floor(Date.now() / 1000), workflow: req.workflow, concurrency: req.concurrency ?? wf.concurrency, requestClass } as WorkflowRecord;
    if (!this.claims) {
      void this.start(rec, wf, vars, req.resume);
      return rec;
    }
    // Leased before its record exists, so that no other replica takes it first.
    const lease = await this.claims.acquire(id);
    if (lease) {
      // Its first record written before the answer: another replica asked next must find it.
      await this.start(rec, wf, vars, req.resume, lease);
      return rec;
    }
    // Redis out: the run is stored, not started; a replica takes it once Redis answers again.
    rec.results = this.runner(rec, wf, vars, req.resume).results;
    await this.store.save(rec);
    return rec;
  }

  /** A run as the store has it now (with replicas, read again first). */
  async find(id: string): Promise<WorkflowRecord | undefined> {
    await this.store.refresh();
    return this.store.runs.get(id);
  }

  /** Cancels a run: no task starts, running ones are aborted upstream. False when it has already ended. */
  async cancel(id: string): Promise<boolean> {
    const r = this.running.get(id);
    // Ended, its last record being written (the run stays here until it is, its lease with it).
    if (r && r.results.status !== 'running') return false;
    if (r) {
      r.cancel('cancelled through the API');
      return true;
    }
    if (!this.claims || this.store.runs.get(id)?.results.status !== 'running') return false;
    // Run by another replica, or by none just now: the request is kept in the store and the holder
    // told; whoever takes the run next finds it.
    await this.store.askCancel(id);
    await this.claims.notify(id, 'cancel').catch(() => undefined);
    return true;
  }

  /** The gateway is closing: no task starts from now on; running requests drain with the pipeline, and the runs resume at the next start. */
  stopping(): void {
    this.claims?.stop();
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

  /** Runs a run whose lease was just taken here, from its record as the store has it now (its succeeded tasks kept). */
  private async take(id: string, lease: JobLease): Promise<void> {
    const rec = await this.store.reload(id);
    if (!rec || rec.results.status !== 'running' || this.running.has(id) || this.closing) return lease.release();
    void this.start(rec, this.parse(rec.workflow), rec.results.vars, rec.results, lease);
    this.o.logger.info({ workflow: id }, 'workflow run taken over');
    if (await this.store.cancelAsked(id)) this.running.get(id)?.cancel('cancelled through the API');
  }

  private runner(rec: WorkflowRecord, wf: Workflow, vars: Record<string, unknown>, previous: RunResults | undefined): WorkflowRunner {
    return new WorkflowRunner(wf, {
      pipeline: this.o.pipeline,
      vars,
      requestClass: rec.requestClass,
      concurrency: rec.concurrency ?? this.o.concurrency(),
      clientKey: this.o.clientKeyOf(rec.owner),
      metrics: this.o.metrics(),
      previous,
      runId: rec.id,
    });
  }

  /** Starts the run; resolves once its first record is written. */
  private start(rec: WorkflowRecord, wf: Workflow, vars: Record<string, unknown>, previous: RunResults | undefined, lease?: JobLease): Promise<void> {
    const runner = this.runner(rec, wf, vars, previous);
    rec.results = runner.results;
    this.running.set(rec.id, runner);
    // With replicas, each save is fenced by the run's lease; a lost lease stops the run here (its
    // running requests end unrecorded, and the replica that takes it runs those tasks again).
    const fenced = lease && (() => fence(lease));
    const save = () =>
      this.store.save(rec, fenced).catch((e: unknown) => {
        if (!(e instanceof JobLeaseLostError)) this.o.logger.error({ err: e, workflow: rec.id }, 'a workflow record could not be saved');
      });
    lease?.signal.addEventListener('abort', () => {
      const why: unknown = lease.signal.reason;
      if (!(why instanceof JobLeaseLostError)) return;
      this.o.logger.warn({ workflow: rec.id, reason: why.message }, 'workflow run stopped here: its lease is lost');
      runner.stop();
    });
    runner.on('change', () => void save());
    const first = save();
    const p = runner
      .run()
      .then(save, (e: unknown) => this.o.logger.error({ err: e, workflow: rec.id }, 'workflow run failed'))
      // The last record is written before the lease is given back: the next holder must not find the run still running.
      .finally(async () => {
        this.running.delete(rec.id);
        this.done.delete(p);
        await lease?.release();
      });
    this.done.add(p);
    return first;
  }
}

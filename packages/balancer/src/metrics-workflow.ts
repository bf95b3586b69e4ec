import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

const OUTCOMES = ['succeeded', 'failed', 'cancelled'] as const;
const TASK_STATES = ['succeeded', 'failed', 'skipped', 'cancelled'] as const;
/** Task durations in seconds: from a one-token answer to a long multi-item fan-out. */
const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900];

/**
 * The workflow families, on the balancer's registry, counted as runs and tasks end (nothing on a
 * request's path): `workflow_runs_total{outcome}` (succeeded, failed, cancelled),
 * `workflow_tasks_total{state}` (succeeded, failed, skipped, cancelled), `workflow_tasks_running`
 * (tasks with a request out now) and `workflow_task_duration_seconds{state}` (a task that ran, from
 * its first request to its last answer, retries included).
 *
 * @example
 * const m = new WorkflowMetrics(registry, 'ollama_lb_');
 * m.taskEnded('succeeded', 1.2);
 */
export class WorkflowMetrics {
  private readonly runs: Counter<'outcome'>;
  private readonly tasks: Counter<'state'>;
  private readonly running: Gauge;
  private readonly duration: Histogram<'state'>;

  constructor(registry: Registry, prefix: string) {
    const registers = [registry];
    this.runs = new Counter({
      name: `${prefix}workflow_runs_total`,
      help: 'Workflow runs that ended, by outcome (succeeded, failed, cancelled).',
      labelNames: ['outcome'],
      registers,
    });
    this.tasks = new Counter({
      name: `${prefix}workflow_tasks_total`,
      help: 'Workflow tasks that ended, by state (succeeded, failed, skipped, cancelled).',
      labelNames: ['state'],
      registers,
    });
    this.running = new Gauge({ name: `${prefix}workflow_tasks_running`, help: 'Workflow tasks running now (their requests out).', registers });
    this.duration = new Histogram({
      name: `${prefix}workflow_task_duration_seconds`,
      help: 'How long workflow tasks that ran took, from their first request to their last answer (retries included), by state.',
      labelNames: ['state'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    for (const outcome of OUTCOMES) this.runs.inc({ outcome }, 0);
    for (const state of TASK_STATES) this.tasks.inc({ state }, 0);
  }

  runEnded(outcome: (typeof OUTCOMES)[number]): void {
    this.runs.inc({ outcome });
  }

  taskStarted(): void {
    this.running.inc();
  }

  /** A task ended; `seconds` when it ran (a skipped task did not). `wasRunning`: it had started. */
  taskEnded(state: (typeof TASK_STATES)[number], seconds: number | undefined, wasRunning: boolean): void {
    this.tasks.inc({ state });
    if (wasRunning) this.running.dec();
    if (seconds !== undefined) this.duration.observe({ state }, seconds);
  }
}

/**
 * What `workflow run` shows on stderr while it runs: on a terminal, the graph's tasks redrawn in
 * place (state, node, elapsed time, attempts) under a line of counts; otherwise one plain line per
 * task that starts or ends. Both read the run's results, so the same view follows a run here and one
 * on a gateway (polled).
 */
import type { RunResults, TaskResult, TaskStatus, Workflow } from '@ollama-ring/balancer';
import type { CliIo } from './types';

/** The most task rows redrawn at once; beyond it the running and failed ones are shown first. */
const MAX_ROWS = 24;
const ORDER: Record<TaskStatus, number> = { running: 0, failed: 1, cancelled: 2, pending: 3, skipped: 4, succeeded: 5 };

export class WorkflowView {
  private readonly seen = new Map<string, TaskStatus>();
  private readonly tty: boolean;
  private readonly t0 = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private drawnLines = 0;
  private last: RunResults | undefined;

  constructor(
    private readonly io: CliIo,
    private readonly wf: Workflow,
  ) {
    this.tty = io.errIsTTY ?? io.isTTY;
  }

  start(): void {
    if (!this.tty) return this.io.err(`workflow ${this.wf.name}: ${this.wf.tasks.length} tasks\n`);
    this.timer = setInterval(() => this.draw(), 250);
    this.timer.unref();
  }

  /** The run's state now. */
  update(r: RunResults): void {
    this.last = r;
    if (this.tty) return this.draw();
    for (const t of this.wf.tasks) {
      const res = r.tasks[t.id];
      if (!res || this.seen.get(t.id) === res.status) continue;
      this.seen.set(t.id, res.status);
      const line = logLine(t.id, res);
      if (line) this.io.err(`[+${secs(Date.now() - this.t0)}] ${line}\n`);
    }
  }

  /** A message on its own line. */
  note(text: string): void {
    this.clear();
    this.io.err(`${text}\n`);
    this.drawnLines = 0;
    this.draw();
  }

  /** Stops redrawing and prints the summary. */
  finish(r: RunResults, where: string | undefined): void {
    clearInterval(this.timer);
    this.update(r);
    this.drawnLines = 0;
    const c = counts(r);
    const to = where ? ` -> ${where}` : '';
    this.io.err(
      `workflow ${this.wf.name}: ${r.status}: ${c.succeeded} succeeded, ${c.failed} failed, ${c.skipped} skipped, ${c.cancelled} cancelled in ${secs(r.durationMs ?? Date.now() - this.t0)}${to}\n`,
    );
    for (const t of this.wf.tasks) {
      const res = r.tasks[t.id];
      if (res?.status === 'failed') this.io.err(`  failed ${t.id}: ${res.error?.message ?? 'failed'} (${res.attempts} attempts)\n`);
    }
  }

  private clear(): void {
    if (this.tty && this.drawnLines > 0) this.io.err(`\x1b[${this.drawnLines}F\x1b[J`);
  }

  private draw(): void {
    const r = this.last;
    if (!this.tty || !r) return;
    const cols = (this.io.columns ?? 120) - 1;
    const c = counts(r);
    const lines = [
      `workflow ${this.wf.name}: ${c.succeeded} done, ${c.running} running, ${c.pending} waiting, ${c.failed} failed, ${c.skipped} skipped  ${secs(Date.now() - this.t0)}`,
    ];
    const tasks = this.wf.tasks.map((t) => ({ id: t.id, res: r.tasks[t.id] })).filter((x) => x.res);
    const shown = tasks.length <= MAX_ROWS ? tasks : [...tasks].sort((a, b) => ORDER[a.res.status] - ORDER[b.res.status]).slice(0, MAX_ROWS);
    const width = Math.min(28, Math.max(...shown.map((x) => x.id.length), 4));
    for (const { id, res } of shown) {
      const elapsed = res.startedAt ? secs((res.endedAt ? Date.parse(res.endedAt) : Date.now()) - Date.parse(res.startedAt)) : '';
      const row = `  ${id.padEnd(width)}  ${res.status.padEnd(9)}  ${(res.node ?? '').padEnd(10)}  ${elapsed.padStart(7)}  ${res.attempts > 1 ? `${res.attempts} attempts` : ''}`;
      lines.push(row.slice(0, cols));
    }
    if (shown.length < tasks.length) lines.push(`  … ${tasks.length - shown.length} more`);
    this.clear();
    this.io.err(lines.join('\n') + '\n');
    this.drawnLines = lines.length;
  }
}

function logLine(id: string, r: TaskResult): string | undefined {
  switch (r.status) {
    case 'running':
      return `start ${id}`;
    case 'succeeded': {
      const tokens = r.tokens ? `, ${r.tokens.completion} tokens` : '';
      return `${r.resumed ? 'kept' : 'succeeded'} ${id}${r.node ? ` on ${r.node}` : ''}${r.durationMs !== undefined ? ` in ${secs(r.durationMs)}` : ''} (${r.attempts} attempt${r.attempts === 1 ? '' : 's'}${tokens})`;
    }
    case 'failed':
      return `failed ${id}: ${r.error ? `${r.error.code}: ${r.error.message}` : 'failed'} (${r.attempts} attempt${r.attempts === 1 ? '' : 's'})`;
    case 'skipped':
    case 'cancelled':
      return `${r.status} ${id}: ${r.reason ?? ''}`;
    default:
      return undefined;
  }
}

function counts(r: RunResults): Record<TaskStatus, number> {
  const c: Record<TaskStatus, number> = { pending: 0, running: 0, succeeded: 0, failed: 0, skipped: 0, cancelled: 0 };
  for (const t of Object.values(r.tasks)) c[t.status]++;
  return c;
}

function secs(ms: number): string {
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

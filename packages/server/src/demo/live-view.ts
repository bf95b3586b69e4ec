/**
 * The demo's live per-node view. On a terminal it redraws in place about four times a second
 * (`TerminalFrame`: cursor moves, one write per frame so it does not flicker); when stdout is a pipe
 * or a file it prints a compact line every couple of seconds instead, so logs of a CI run stay
 * readable. Its node table and queue line are also `status --watch`'s (`commands/status-watch.ts`).
 */
import type { CliIo } from '../commands/types';
import { renderTable } from '../commands/table';
import { TerminalFrame } from '../commands/terminal-frame';
import { palette, type Palette } from './colors';
import type { LiveSnapshot, NodeView } from './sampler';
import { formatInt } from './stats';

export interface LiveViewOptions {
  /** Redraw in place (stdout is a terminal). */
  tty: boolean;
  color: boolean;
  /** Terminal width; lines are cut to it so they never wrap (wrapping breaks the redraw). */
  columns?: number;
  /** Redraw period on a terminal (default 250 ms). */
  frameMs?: number;
  /** Period of the plain lines otherwise (default 2000 ms). */
  plainEveryMs?: number;
}

const BAR_MAX = 12;

function slotBar(n: NodeView, p: Palette): string {
  const width = Math.min(BAR_MAX, Math.max(1, n.slots));
  const used = n.slots > 0 ? Math.round((Math.min(n.inFlight, n.slots) / n.slots) * width) : 0;
  const fill = '█'.repeat(used);
  const colour = n.inFlight >= n.slots ? p.red : n.inFlight / Math.max(1, n.slots) >= 0.5 ? p.yellow : p.green;
  return colour(fill) + p.dim('░'.repeat(width - used)) + ' '.repeat(BAR_MAX - width);
}

function health(n: NodeView, p: Palette): string {
  const h = n.health.toLowerCase();
  const notes = [n.breaker !== 'closed' ? `breaker ${n.breaker}` : '', n.state !== undefined && n.state !== 'on' ? n.state : ''].filter((x) => x !== '');
  const s = notes.length > 0 ? `${h} (${notes.join(', ')})` : h;
  return n.health === 'HEALTHY' ? p.green(s) : n.health === 'UNKNOWN' ? p.dim(s) : n.health === 'DEGRADED' ? p.yellow(s) : p.red(s);
}

function hotModels(n: NodeView, p: Palette): string {
  if (n.hot.length === 0) return p.dim('-');
  return n.hot.map((h) => (h.loading ? p.yellow(`${h.model} (loading)`) : p.cyan(h.model))).join(', ');
}

/**
 * The per-node table of the live views (the demo's and `status --watch`'s), as lines: health and
 * breaker, a bar of slots used, requests waiting inside the node (a column only when known), tokens
 * per second, requests served and resident models.
 */
export function renderNodeTable(nodes: readonly NodeView[], p: Palette): string[] {
  const onNode = nodes.some((n) => n.waitingOnNode !== undefined);
  const columns: { head: string; align: 'left' | 'right'; cell: (n: NodeView) => string }[] = [
    { head: 'NODE', align: 'left', cell: (n) => p.bold(n.id) },
    { head: 'HEALTH', align: 'left', cell: (n) => health(n, p) },
    { head: 'IN-FLIGHT/SLOTS', align: 'left', cell: (n) => slotBar(n, p) },
    { head: '', align: 'right', cell: (n) => `${n.inFlight}/${n.slots}` },
    ...(onNode ? [{ head: 'ON NODE', align: 'right' as const, cell: (n: NodeView) => ((n.waitingOnNode ?? 0) > 0 ? p.yellow(String(n.waitingOnNode)) : '0') }] : []),
    { head: 'TOK/S', align: 'right', cell: (n) => formatInt(n.tokensPerSec) },
    { head: 'SERVED', align: 'right', cell: (n) => formatInt(n.served) },
    { head: 'HOT MODELS', align: 'left', cell: (n) => hotModels(n, p) },
  ];
  const table = renderTable(
    columns.map((c) => c.head),
    nodes.map((n) => columns.map((c) => c.cell(n))),
    columns.map((c) => c.align),
  )
    .trimEnd()
    .split('\n');
  table[0] = p.dim(table[0]);
  return table;
}

/** The balancer's wait queue in one line: its depth, and per model, most waiting first. */
export function queueLine(queue: LiveSnapshot['queue'], p: Palette): string {
  const waiting = queue.depth > 0 ? p.yellow(String(queue.depth)) : '0';
  const byModel = queue.byModel.length ? `  (${queue.byModel.map(([m, n]) => `${m} ${n}`).join(', ')})` : '';
  return `waiting in the balancer: ${waiting}${byModel}`;
}

/** The frame for one snapshot, as lines without newlines. */
export function renderLive(s: LiveSnapshot, color: boolean): string[] {
  const p = palette(color);
  const secs = (ms: number): string => (ms / 1000).toFixed(1);
  const progress = Math.min(1, s.elapsedMs / s.durationMs);
  const bar = '━'.repeat(Math.round(progress * 20)).padEnd(20, '·');
  const clock =
    s.phase === 'done'
      ? p.green(`done after ${secs(s.elapsedMs)} s`)
      : s.phase === 'finishing'
        ? p.yellow('finishing in-flight requests…')
        : `${secs(Math.min(s.elapsedMs, s.durationMs))} s / ${secs(s.durationMs)} s ${p.dim(bar)}`;
  const table = renderNodeTable(s.nodes, p);
  const failed = s.failed > 0 ? p.red(`${s.failed} failed`) : '0 failed';
  return [
    // The clock first: on a narrow terminal the line is cut from the right.
    `${p.bold('ollama-ring demo')}  ${clock}  gateway ${p.cyan(s.url)}  strategy ${s.strategy}`,
    '',
    ...table,
    '',
    queueLine(s.queue, p),
    `requests: ${formatInt(s.sent)} sent · ${p.green(`${formatInt(s.ok)} ok`)} · ${failed} · ${s.inFlight} in flight · ${formatInt(s.tokensPerSec)} tok/s${s.burst ? `   ${p.magenta(p.bold('◆ BURST'))}` : ''}`,
  ];
}

/** One compact line for non-terminal output. */
export function renderPlain(s: LiveSnapshot): string {
  const nodes = s.nodes
    .map((n) => `${n.id} ${n.inFlight}/${n.slots} ${Math.round(n.tokensPerSec)}tok/s [${n.hot.map((h) => h.model + (h.loading ? '*' : '')).join(' ')}]`)
    .join(' | ');
  const t = (s.elapsedMs / 1000).toFixed(1).padStart(5);
  return `[${t}s]${s.phase === 'running' ? '' : ` ${s.phase}:`} ${nodes} | waiting ${s.queue.depth} | ok ${s.ok} failed ${s.failed} in-flight ${s.inFlight}${s.burst ? ' BURST' : ''}`;
}

export class LiveView {
  private timer: NodeJS.Timeout | undefined;
  private lastPlain = -Infinity;
  private readonly frame: TerminalFrame;

  constructor(
    private readonly io: CliIo,
    private readonly opts: LiveViewOptions,
  ) {
    this.frame = new TerminalFrame(io, { color: opts.color, columns: opts.columns });
  }

  start(sample: () => LiveSnapshot): void {
    const tick = (): void => this.draw(sample());
    tick();
    this.timer = setInterval(tick, this.opts.tty ? (this.opts.frameMs ?? 250) : 250);
  }

  /** Stops redrawing after one last frame, and gives the cursor back. */
  stop(last?: LiveSnapshot): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (last) this.draw(last, true);
    this.frame.end();
  }

  private draw(s: LiveSnapshot, force = false): void {
    if (!this.opts.tty) {
      if (!force && s.elapsedMs - this.lastPlain < (this.opts.plainEveryMs ?? 2_000)) return;
      this.lastPlain = s.elapsedMs;
      this.io.out(renderPlain(s) + '\n');
      return;
    }
    this.frame.draw(renderLive(s, this.opts.color));
  }
}

/**
 * Redrawing a block of lines in place on a terminal: the demo's live view and `status --watch` both
 * draw their frames through it. Each frame is one write (so it does not flicker): back to the first
 * line of the previous frame, every line cut to the terminal's width (a wrapped line would break the
 * count of lines to go back) and cleared to its end, then whatever is left below cleared.
 */
import { truncateVisible } from '../demo/colors';
import type { CliIo } from './types';

export class TerminalFrame {
  private drawn = 0;
  private hidden = false;

  constructor(
    private readonly io: CliIo,
    private readonly opts: { color: boolean; columns?: number },
  ) {}

  /** Draws `lines` (without newlines) over the previous frame; hides the cursor on the first. */
  draw(lines: readonly string[]): void {
    if (!this.hidden) {
      this.io.out('\x1b[?25l');
      this.hidden = true;
    }
    // A terminal that reports no size (0, as some pseudo-terminals do) is taken as 120 columns.
    const columns = this.opts.columns !== undefined && this.opts.columns > 0 ? this.opts.columns : 120;
    const width = Math.max(20, columns - 1);
    const out = lines.map((l) => truncateVisible(l, width) + (this.opts.color ? '\x1b[0m' : '') + '\x1b[K');
    const up = this.drawn > 0 ? `\x1b[${this.drawn}F` : '';
    this.io.out(`${up}${out.join('\n')}\n\x1b[J`);
    this.drawn = out.length;
  }

  /** Gives the cursor back (the last frame stays on screen). */
  end(): void {
    if (this.hidden) this.io.out('\x1b[?25h');
    this.hidden = false;
  }
}

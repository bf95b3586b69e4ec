/** Plain-text tables for terminals: columns padded to their widest cell, ANSI colour ignored in widths. */

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** Visible width of a cell (colour codes take no room). */
function visibleWidth(s: string): number {
  return s.replace(ANSI, '').length;
}

export type Align = 'left' | 'right';

/**
 * @example renderTable(['node', 'req'], [['gpu-1', '12']], ['left', 'right']);
 * // "node   req\ngpu-1   12\n"
 */
export function renderTable(headers: string[], rows: string[][], align: Align[] = [], gap = '  '): string {
  const widths = headers.map((h, i) => Math.max(visibleWidth(h), ...rows.map((r) => visibleWidth(r[i] ?? ''))));
  const fmt = (cells: string[]): string =>
    cells
      .map((c, i) => {
        const fill = ' '.repeat(Math.max(0, widths[i] - visibleWidth(c)));
        return align[i] === 'right' ? fill + c : i === cells.length - 1 ? c : c + fill;
      })
      .join(gap)
      .trimEnd();
  return [fmt(headers), ...rows.map(fmt)].join('\n') + '\n';
}

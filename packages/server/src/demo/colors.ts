/** ANSI colours that turn into nothing when colour is off (--no-color, NO_COLOR, or not a TTY). */
export interface Palette {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;

export function palette(enabled: boolean): Palette {
  if (!enabled) {
    const id = (s: string): string => s;
    return { bold: id, dim: id, green: id, yellow: id, red: id, cyan: id, magenta: id };
  }
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    red: wrap(31, 39),
    cyan: wrap(36, 39),
    magenta: wrap(35, 39),
  };
}

// eslint-disable-next-line no-control-regex
const ESC = /\x1b\[[0-9;]*[A-Za-z]/y;

/** Cuts `s` to `width` visible characters, keeping colour codes intact (so a line never wraps). */
export function truncateVisible(s: string, width: number): string {
  let out = '';
  let visible = 0;
  for (let i = 0; i < s.length;) {
    ESC.lastIndex = i;
    const m = ESC.exec(s);
    if (m) {
      out += m[0];
      i += m[0].length;
      continue;
    }
    if (visible >= width) {
      i++;
      continue;
    }
    out += s[i++];
    visible++;
  }
  return out;
}

import { execFileSync } from 'node:child_process';

/**
 * The commit measured, and whether the sources under `paths` differed from it (best effort:
 * 'unknown' outside a git checkout), for a results table.
 */
export function revision(paths: readonly string[]): string {
  try {
    const git = (...a: string[]): string => execFileSync('git', a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = git('status', '--porcelain', '--', ...paths) !== '';
    return `${git('rev-parse', '--short', 'HEAD')}${dirty ? ` (${paths.join(', ')} modified)` : ''}`;
  } catch {
    return 'unknown';
  }
}

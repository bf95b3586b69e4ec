import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '../src/common/args';
import { DEFAULT_BASELINE_REF, READY_FILE, autoBaseline, baselineRef, prepareBaseline, pruneCache, type Step } from '../src/proxy/baseline';

// The previous build's worktree machinery, on a throwaway repository with stand-in build steps:
// no install, no tsc, just what the bench does with git and its cache.

function git(repo: string, ...args: string[]): string {
  const r = spawnSync('git', ['-C', repo, '-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

const worktrees = (repo: string): string => git(repo, 'worktree', 'list', '--porcelain');

describe('--baseline', () => {
  test.each([
    [[], 'auto'],
    [['--baseline', 'auto'], 'auto'],
    [['--baseline', 'main'], 'main'],
    [['--baseline=abc1234'], 'abc1234'],
    [['--baseline', 'none'], undefined],
    [['--baseline', 'off'], undefined],
    [['--no-baseline'], undefined],
  ] as const)('%j → %s', (argv, ref) => {
    expect(baselineRef(parseArgs(argv).flags)).toBe(ref);
  });

  test('defaults to auto', () => expect(DEFAULT_BASELINE_REF).toBe('auto'));

  test('without a ref it is an error', () => {
    expect(() => baselineRef(parseArgs(['--baseline']).flags)).toThrow(/needs a git ref/);
    expect(() => baselineRef(parseArgs(['--baseline', '--quick']).flags)).toThrow(/needs a git ref/);
  });
});

describe('previous build worktree', () => {
  const root = mkdtempSync(join(tmpdir(), 'bench-baseline-'));
  const repo = join(root, 'repo');
  const cacheDir = join(root, 'cache');
  const log = (): void => undefined;
  let first = '';
  let second = '';
  let third = '';

  beforeAll(() => {
    git(root, 'init', '-q', repo);
    mkdirSync(join(repo, 'packages'));
    // Two changes to the code, then one to the docs only.
    for (const [i, [file, text]] of [
      ['packages/file.txt', 'one'],
      ['packages/file.txt', 'two'],
      ['README.md', 'docs'],
    ].entries()) {
      writeFileSync(join(repo, file), `${text}\n`);
      git(repo, 'add', file);
      git(repo, 'commit', '-q', '-m', `commit ${i + 1}`);
    }
    third = git(repo, 'rev-parse', 'HEAD');
    second = git(repo, 'rev-parse', 'HEAD~1');
    first = git(repo, 'rev-parse', 'HEAD~2');
  });
  afterAll(() => {
    git(repo, 'worktree', 'prune');
    rmSync(root, { recursive: true, force: true });
  });

  const build: Step[] = [{ what: 'build', cmd: 'sh', args: ['-c', 'mkdir -p packages/server/dist && echo built > packages/server/dist/index.js'] }];

  test('checks the commit out detached, runs the steps in it, and reuses the build next time', async () => {
    const b = await prepareBaseline('HEAD~1', { repo, cacheDir, steps: () => build, log });
    expect(b).toMatchObject({ ref: 'HEAD~1', sha: second, subject: 'commit 2', dir: join(cacheDir, second), cached: false });
    expect(readFileSync(join(b.dir, 'packages/file.txt'), 'utf8')).toBe('two\n');
    expect(existsSync(join(b.dir, 'packages/server/dist/index.js'))).toBe(true);
    expect(JSON.parse(readFileSync(join(b.dir, READY_FILE), 'utf8'))).toMatchObject({ sha: second });
    expect(worktrees(repo)).toContain(b.dir);
    // Same sha by another name: the cached build, steps not run again.
    const again = await prepareBaseline(second.slice(0, 10), { repo, cacheDir, steps: () => [{ what: 'fail', cmd: 'false', args: [] }], log });
    expect(again).toMatchObject({ sha: second, dir: b.dir, cached: true, buildMs: 0 });
  });

  test('a failing step fails with its output, and leaves no worktree behind', async () => {
    const failing: Step[] = [{ what: 'install', cmd: 'sh', args: ['-c', 'echo lockfile out of date >&2; exit 3'] }];
    await expect(prepareBaseline(first, { repo, cacheDir, steps: () => failing, log })).rejects.toThrow(/install .* failed with 3:\nlockfile out of date/);
    expect(existsSync(join(cacheDir, first))).toBe(false);
    expect(worktrees(repo)).not.toContain(join(cacheDir, first));
    expect(existsSync(join(cacheDir, `${first}.lock`))).toBe(false);
  });

  test('a worktree left half-built by an interrupted run is built again', async () => {
    const b = await prepareBaseline(third, { repo, cacheDir, steps: () => build, log });
    rmSync(join(b.dir, READY_FILE));
    const again = await prepareBaseline(third, { repo, cacheDir, steps: () => build, log });
    expect(again.cached).toBe(false);
  });

  test('auto: the parent of the last commit that changed packages/, or HEAD when packages/ has uncommitted changes', () => {
    // HEAD changed only the docs: HEAD~1 has the same code; the code before its last change is commit 1.
    const auto = autoBaseline(repo);
    expect(git(repo, 'rev-parse', auto.ref)).toBe(first);
    expect(auto.why).toMatch(/the parent of [0-9a-f]+ "commit 2", the last commit that changed packages/);
    writeFileSync(join(repo, 'packages/file.txt'), 'uncommitted\n');
    try {
      expect(autoBaseline(repo)).toMatchObject({ ref: 'HEAD', why: expect.stringMatching(/not committed/) });
    } finally {
      git(repo, 'checkout', '--', 'packages/file.txt');
    }
  });

  test('a ref that does not exist is an error naming it', async () => {
    await expect(prepareBaseline('no-such-branch', { repo, cacheDir, steps: () => build, log })).rejects.toThrow(/no-such-branch/);
  });

  test('the cache keeps the newest builds', async () => {
    await prepareBaseline(first, { repo, cacheDir, steps: () => build, log });
    // Three built (first, second, third); keeping 1 besides `first` removes the other two.
    const removed = pruneCache(repo, cacheDir, 1, join(cacheDir, first));
    expect(removed.sort()).toEqual([join(cacheDir, second), join(cacheDir, third)].sort());
    expect(worktrees(repo)).not.toContain(join(cacheDir, second));
    expect(existsSync(join(cacheDir, first, READY_FILE))).toBe(true);
  });
});

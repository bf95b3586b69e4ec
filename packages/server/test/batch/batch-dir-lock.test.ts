import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { BatchDirLockedError, BatchService } from '../../src';

/** A batch data directory is one gateway's at a time: a live holder refuses a second, a dead one is taken over. */
describe('the batch data directory lock', () => {
  let dir: string;
  let sleeper: ChildProcess | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'batch-lock-'));
  });
  afterEach(() => {
    sleeper?.kill('SIGKILL');
    sleeper = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const open = () =>
    BatchService.open({
      dir,
      retentionMs: () => 3_600_000,
      pipeline: () => {
        throw new Error('no line runs in this test');
      },
      concurrency: () => 1,
      clientKeyOf: () => undefined,
      logger: pino({ level: 'silent' }),
    });
  const holdBy = (pid: number, host = hostname()) => writeFileSync(join(dir, 'lock'), JSON.stringify({ pid, host, since: '2026-12-05T00:00:00.000Z' }));

  test('taken at open, given back at close', async () => {
    const s = await open();
    expect(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    await s.close();
    expect(existsSync(join(dir, 'lock'))).toBe(false);
  });

  test('a live process of this host holding it: the open fails, naming it; once it has died, the lock is taken over', async () => {
    sleeper = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const pid = sleeper.pid!;
    holdBy(pid);
    const refused = await open().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BatchDirLockedError);
    expect(refused).toMatchObject({ code: 'ERR_BATCH_DIR_LOCKED', message: expect.stringContaining(`in use by process ${pid}`) });
    sleeper.kill('SIGKILL');
    await new Promise((r) => sleeper!.once('exit', r));
    const s = await open();
    expect(JSON.parse(readFileSync(join(dir, 'lock'), 'utf8')).pid).toBe(process.pid);
    await s.close();
  });

  test('a holder on another host (shared storage) cannot be checked: the open fails and says which file to delete', async () => {
    holdBy(1, 'elsewhere.example');
    await expect(open()).rejects.toMatchObject({ code: 'ERR_BATCH_DIR_LOCKED', message: expect.stringContaining(`delete ${join(dir, 'lock')}`) });
  });
});

import { BalancerError } from '@ollama-ring/balancer';
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ensureDir, writeAtomic } from './disk';

/** Another live gateway holds the batch data directory (`batch.dataDir`). */
export class BatchDirLockedError extends BalancerError {
  static override brand = 'ERR_BATCH_DIR_LOCKED';
  constructor(message: string) {
    super(BatchDirLockedError.brand, 500, message);
  }
}

interface Holder {
  pid: number;
  host: string;
  since: string;
}

/**
 * The data directory's owner, `<dir>/lock`: one gateway at a time runs the jobs of a directory.
 * Two would each resume every unfinished job and run its lines twice, appending to the same result
 * logs. The lock names its holder's pid and host: taken at open, given back at close, and taken
 * over when its holder on this host is no longer alive (a gateway killed with SIGKILL leaves its
 * lock behind). A holder on another host (a directory on shared storage) cannot be checked from
 * here: the open fails, and says which file to delete once that gateway is known to be gone.
 * Re-entrant within a process (a test may open one directory twice).
 */
export class DirLock {
  private constructor(private readonly path: string) {}

  static async acquire(dir: string): Promise<DirLock> {
    await ensureDir(dir);
    const path = join(dir, 'lock');
    const me: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(JSON.stringify(me));
        await fh.sync();
      } finally {
        await fh.close();
      }
      return new DirLock(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const held = await readHolder(path);
    if (held && !(held.host === me.host && (held.pid === me.pid || !processAlive(held.pid)))) {
      const where = held.host === me.host ? `process ${held.pid}` : `process ${held.pid} on host ${held.host}`;
      throw new BatchDirLockedError(
        `batch.dataDir ${dir} is in use by ${where} since ${held.since}: one gateway per data directory` +
          (held.host === me.host ? '' : ` (delete ${path} if that gateway is gone)`),
      );
    }
    // Ours already, a holder on this host that has died, or a lock file left unreadable: take it.
    await writeAtomic(path, JSON.stringify(me));
    return new DirLock(path);
  }

  /**
   * Checks that no live gateway holds the directory alone (replicas share a directory without the
   * lock: a gateway on the memory backend among them would run their jobs a second time).
   */
  static async assertFree(dir: string): Promise<void> {
    const path = join(dir, 'lock');
    const held = await readHolder(path);
    if (held && (held.host !== hostname() || (held.pid !== process.pid && processAlive(held.pid)))) {
      throw new BatchDirLockedError(
        `batch.dataDir ${dir} is held by process ${held.pid} on host ${held.host} (a gateway on state.backend memory, since ${held.since}): ` +
          `replicas on redis share a data directory only with each other (delete ${path} if that gateway is gone)`,
      );
    }
  }

  /** Gives the directory back, if the lock is still ours. */
  async release(): Promise<void> {
    const held = await readHolder(this.path);
    if (held?.pid === process.pid && held.host === hostname()) await unlink(this.path).catch(() => undefined);
  }
}

async function readHolder(path: string): Promise<Holder | undefined> {
  try {
    const h = JSON.parse(await readFile(path, 'utf8')) as Partial<Holder>;
    return typeof h.pid === 'number' && typeof h.host === 'string' ? { pid: h.pid, host: h.host, since: String(h.since ?? '') } : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process of this host with that pid exists (EPERM: it does, owned by another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

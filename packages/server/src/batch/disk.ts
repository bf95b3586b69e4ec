import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * Replaces `path` with `text` so that a crash at any point leaves either the old file or the new
 * one whole, never a mix: written to a temporary file beside it, flushed to disk, renamed over it
 * (atomic on POSIX), and the directory flushed so that the rename itself survives a power loss.
 *
 * @example await writeAtomic('/data/batches/batch_1.json', JSON.stringify(job));
 */
export async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await syncDir(dirname(path));
}

/** Flushes a directory's entries (a rename or a new file in it) to disk. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    await fh.close();
  }
}

/** Flushes a file's contents to disk. */
export async function syncFile(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

/**
 * A new id: `prefix`, then the time in ms and random bytes in hex, so that ids sort by creation
 * time (lists are newest first, and `after` is an id).
 *
 * @example newId('batch_'); // 'batch_0193a6f2c1e4a1b2c3d4e5f6a7b8'
 */
export function newId(prefix: string): string {
  return prefix + Date.now().toString(16).padStart(12, '0') + randomBytes(8).toString('hex');
}

/**
 * The gateway's workflow runs on disk, beside the batch store and with its durability (records
 * replaced whole and atomically, `batch/disk.ts`): `<batch.dataDir>/workflows/<id>.json`, one per
 * run, holding the document, the variables and the results so far. A run still `running` when the
 * gateway stopped is resumed at the next start from its saved results (its succeeded tasks kept).
 */
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestClass, RunResults } from '@ollama-ring/balancer';
import { ensureDir, writeAtomic } from '../batch/disk';

/** One run as stored. */
export interface WorkflowRecord {
  id: string;
  /** Who made it (see the batch service's `ownerOf`). */
  owner: string;
  /** Unix seconds. */
  created_at: number;
  /** The workflow as it was sent: YAML text, or a JSON document. */
  workflow: string | Record<string, unknown>;
  concurrency?: number;
  requestClass: RequestClass;
  /** The results so far (`status: running` until it ends). */
  results: RunResults;
}

export class WorkflowStore {
  readonly runs = new Map<string, WorkflowRecord>();
  private made = false;
  /** Saves in order per run: the newest text waits behind the one being written. */
  private readonly writing = new Map<string, { busy: Promise<void>; next?: string }>();

  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<WorkflowStore> {
    const s = new WorkflowStore(dir);
    let names: string[] = [];
    try {
      names = await readdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      try {
        const rec = JSON.parse(await readFile(join(dir, name), 'utf8')) as WorkflowRecord;
        s.runs.set(rec.id, rec);
      } catch {
        // Replaced atomically, so a bad record is damage from outside: skipped, not fatal.
      }
    }
    return s;
  }

  /** Saves a run's record; saves of one run are written in order, and a burst collapses to its last. */
  save(rec: WorkflowRecord): Promise<void> {
    this.runs.set(rec.id, rec);
    const text = JSON.stringify(rec);
    const w = this.writing.get(rec.id);
    if (w) {
      w.next = text;
      return w.busy;
    }
    const entry: { busy: Promise<void>; next?: string } = { busy: Promise.resolve() };
    entry.busy = (async () => {
      await this.prepare();
      let t: string | undefined = text;
      while (t !== undefined) {
        await writeAtomic(join(this.dir, `${rec.id}.json`), t);
        t = entry.next;
        entry.next = undefined;
      }
    })().finally(() => this.writing.delete(rec.id));
    this.writing.set(rec.id, entry);
    return entry.busy;
  }

  /** Waits for every save under way. */
  async flush(): Promise<void> {
    await Promise.all([...this.writing.values()].map((w) => w.busy.catch(() => undefined)));
  }

  /** Deletes finished runs that ended before `now - retentionMs`. */
  async sweep(now: number, retentionMs: number): Promise<number> {
    let gone = 0;
    for (const rec of [...this.runs.values()]) {
      const ended = rec.results.endedAt ? Date.parse(rec.results.endedAt) : undefined;
      if (rec.results.status === 'running' || ended === undefined || ended > now - retentionMs) continue;
      this.runs.delete(rec.id);
      await unlink(join(this.dir, `${rec.id}.json`)).catch(() => undefined);
      gone++;
    }
    return gone;
  }

  private async prepare(): Promise<void> {
    if (this.made) return;
    await ensureDir(this.dir);
    this.made = true;
  }
}

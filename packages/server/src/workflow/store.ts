/**
 * The gateway's workflow runs on disk, beside the batch store and with its durability (records
 * replaced whole and atomically, `batch/disk.ts`): `<batch.dataDir>/workflows/<id>.json`, one per
 * run, holding the document, the variables and the results so far. A run still `running` when the
 * gateway stopped is resumed at the next start from its saved results (its succeeded tasks kept).
 * With replicas sharing the directory, `<id>.cancel` is a cancellation asked on a replica that does
 * not run it, and each replica reads the records again before it answers ({@link WorkflowStore.refresh}).
 */
import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestClass, RunResults } from '@ollama-ring/balancer';
import { ensureDir, writeAtomic } from '../batch/disk';
import { Rescan } from '../batch/rescan';

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
  /** Runs this process runs: their record in memory is newer than the file. */
  keep: (id: string) => boolean = () => false;
  private made = false;
  /** Saves in order per run: the newest text waits behind the one being written. */
  private readonly writing = new Map<string, { busy: Promise<void>; next?: string }>();
  /** Each record's mtime and size when last read (shared stores). */
  private readonly seen = new Map<string, string>();
  private readonly rescan = new Rescan(() => this.scan());

  private constructor(
    readonly dir: string,
    /** Replicas write this directory too: `refresh()` reads it again. */
    readonly shared: boolean,
  ) {}

  static async open(dir: string, shared = false): Promise<WorkflowStore> {
    const s = new WorkflowStore(dir, shared);
    await s.scan();
    return s;
  }

  /** Reads again what other replicas changed (a shared store); a call never sees the directory older than when it was made. */
  refresh(): Promise<void> {
    if (!this.shared) return Promise.resolve();
    return this.rescan.request();
  }

  /** Reads one run's record again from its file (a replica taking it over). */
  async reload(id: string): Promise<WorkflowRecord | undefined> {
    const rec = await readRecord(join(this.dir, `${id}.json`));
    if (rec) this.runs.set(id, rec);
    return rec;
  }

  /** Records that a run's cancellation was asked, for the replica that runs it (or the next to). */
  async askCancel(id: string): Promise<void> {
    await this.prepare();
    await writeAtomic(join(this.dir, `${id}.cancel`), String(Math.floor(Date.now() / 1000)));
  }

  async cancelAsked(id: string): Promise<boolean> {
    return stat(join(this.dir, `${id}.cancel`)).then(
      () => true,
      () => false,
    );
  }

  private async scan(): Promise<void> {
    let names: string[] = [];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const found = new Set<string>();
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -'.json'.length);
      found.add(id);
      if (this.keep(id)) continue;
      const path = join(this.dir, name);
      const s = this.shared ? await stat(path).catch(() => undefined) : undefined;
      const mark = s ? `${s.mtimeMs}:${s.size}` : '';
      if (this.shared && (!s || this.seen.get(id) === mark)) continue;
      const rec = await readRecord(path);
      if (!rec) continue;
      if (this.shared) this.seen.set(id, mark);
      this.runs.set(rec.id, rec);
    }
    if (!this.shared) return;
    for (const id of [...this.runs.keys()]) {
      if (found.has(id) || this.keep(id)) continue;
      this.runs.delete(id);
      this.seen.delete(id);
    }
  }

  /**
   * Saves a run's record; saves of one run are written in order, and a burst collapses to its last.
   * `fence`, when given, is awaited before each write and throws when this process may no longer
   * write the run (replicas: its lease is lost).
   */
  save(rec: WorkflowRecord, fence?: () => Promise<void>): Promise<void> {
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
        await fence?.();
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
      await unlink(join(this.dir, `${rec.id}.cancel`)).catch(() => undefined);
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

async function readRecord(path: string): Promise<WorkflowRecord | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as WorkflowRecord;
  } catch {
    // Replaced atomically, so a bad record is damage from outside (or gone meanwhile): skipped, not fatal.
    return undefined;
  }
}

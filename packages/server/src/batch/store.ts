import { readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDir, newId, syncDir, writeAtomic } from './disk';
import { type FileObject, type FileRecord, isFinished, type JobRecord } from './types';
import { Rescan } from './rescan';

/**
 * The batch store on disk, under `batch.dataDir`; nothing to install:
 *
 * - `files/<id>.jsonl`: a file's content: an upload (streamed in, flushed, renamed into place) or a
 *   job's results (appended line by line, see `ResultLog`);
 * - `files/<id>.json`: the file's record. A file exists for the API once its record does: an
 *   upload's content is in place before its record is written, a job's results become files when
 *   the job ends;
 * - `batches/<id>.json`: a job's record, rewritten whole and atomically at each change of status;
 * - `tmp/`: uploads still arriving, emptied at start.
 *
 * - `batches/<id>.cancel`: a cancellation asked on a replica that does not run the job (shared
 *   stores), for the one that does or will.
 *
 * Records are small and read into memory at start; contents are only ever streamed. A store shared
 * by replicas (`state.backend: redis`) is read again before each use ({@link BatchStore.refresh}):
 * the files stay the one source of truth, each replica's maps only a cache of them.
 */
export class BatchStore {
  readonly files = new Map<string, FileRecord>();
  readonly jobs = new Map<string, JobRecord>();
  /** Jobs whose record this process writes (it runs them): their record in memory is newer than the file. */
  keep: (id: string) => boolean = () => false;
  private made = false;
  /** Each record file's mtime and size when last read (shared stores), to read again only what changed. */
  private readonly seen = new Map<string, string>();
  private readonly rescan = new Rescan(() => this.scan());

  private constructor(
    readonly dir: string,
    /** Other processes write this directory too (replicas): `refresh()` reads it again. */
    readonly shared: boolean,
  ) {}

  /** Opens the store at `dir`, reading every record; an absent directory is an empty store, made on the first write. */
  static async open(dir: string, shared = false): Promise<BatchStore> {
    const s = new BatchStore(dir, shared);
    // A shared directory's `tmp/` may hold another replica's uploads under way.
    if (!shared) await rm(join(dir, 'tmp'), { recursive: true, force: true });
    await s.scan();
    return s;
  }

  /**
   * Reads again the records other replicas changed, added or deleted (a shared store; at once
   * otherwise). Calls that arrive while a read is under way wait for the next one, which starts
   * after them: what a caller sees is never older than its call.
   */
  refresh(): Promise<void> {
    if (!this.shared) return Promise.resolve();
    return this.rescan.request();
  }

  /** Reads one job's record again from its file (a replica taking the job over); undefined when it is gone. */
  async reloadJob(id: string): Promise<JobRecord | undefined> {
    const rec = await readRecord<JobRecord>(join(this.dir, 'batches', `${id}.json`));
    if (rec) this.jobs.set(id, rec);
    return rec;
  }

  /** Records that a job's cancellation was asked (for the replica that runs it, or the next to). */
  async askCancel(id: string): Promise<void> {
    await this.prepare();
    await writeAtomic(join(this.dir, 'batches', `${id}.cancel`), String(Math.floor(Date.now() / 1000)));
  }

  /** Whether a job's cancellation was asked on another replica. */
  async cancelAsked(id: string): Promise<boolean> {
    return stat(join(this.dir, 'batches', `${id}.cancel`)).then(
      () => true,
      () => false,
    );
  }

  private async scan(): Promise<void> {
    const found = new Set<string>();
    for (const sub of ['files', 'batches'] as const) {
      for (const name of await list(join(this.dir, sub))) {
        if (!name.endsWith('.json')) continue;
        const id = name.slice(0, -'.json'.length);
        const path = join(this.dir, sub, name);
        found.add(path);
        if (sub === 'batches' && this.keep(id)) continue;
        const s = this.shared ? await stat(path).catch(() => undefined) : undefined;
        const mark = s ? `${s.mtimeMs}:${s.size}` : '';
        if (this.shared && (!s || this.seen.get(path) === mark)) continue;
        const rec = await readRecord<FileRecord & JobRecord>(path);
        if (!rec) continue;
        if (this.shared) this.seen.set(path, mark);
        if (sub === 'files') this.files.set(rec.file.id, rec);
        else this.jobs.set(rec.batch.id, rec);
      }
    }
    if (!this.shared) return;
    // What another replica deleted (its retention sweep, a file deleted through it) is gone here too.
    for (const [id] of this.files) if (!found.has(join(this.dir, 'files', `${id}.json`))) this.files.delete(id);
    for (const [id] of this.jobs) if (!found.has(join(this.dir, 'batches', `${id}.json`)) && !this.keep(id)) this.jobs.delete(id);
    for (const path of this.seen.keys()) if (!found.has(path)) this.seen.delete(path);
  }

  /** Where a file's content is. */
  contentPath(id: string): string {
    return join(this.dir, 'files', `${id}.jsonl`);
  }

  /** A fresh path for an upload to arrive at before it becomes a file. */
  async tempPath(): Promise<string> {
    await this.prepare();
    return join(this.dir, 'tmp', newId('upload-'));
  }

  /** Makes an upload that arrived whole at `tmp` (flushed by the caller) a file. */
  async addUpload(owner: string, tmp: string, file: Omit<FileObject, 'id' | 'object' | 'status' | 'status_details'>): Promise<FileRecord> {
    const id = newId('file-');
    await rename(tmp, this.contentPath(id));
    await syncDir(join(this.dir, 'files'));
    return this.addFile(owner, { id, object: 'file', status: 'processed', status_details: null, ...file });
  }

  /** Writes a file's record: from then on it is listed (its content must be in place). */
  async addFile(owner: string, file: FileObject): Promise<FileRecord> {
    const rec: FileRecord = { file, owner };
    await this.prepare();
    await writeAtomic(join(this.dir, 'files', `${file.id}.json`), JSON.stringify(rec));
    this.files.set(file.id, rec);
    return rec;
  }

  /** Deletes a file: its record first (it is gone for the API), then its content. */
  async deleteFile(id: string): Promise<void> {
    this.files.delete(id);
    await unlink(join(this.dir, 'files', `${id}.json`)).catch(ignoreMissing);
    await unlink(this.contentPath(id)).catch(ignoreMissing);
  }

  /** Writes a job's record whole (atomically: a crash leaves the old record or the new); `text` is the record as it was when the save was asked. */
  async saveJob(job: JobRecord, text = JSON.stringify(job)): Promise<void> {
    this.jobs.set(job.batch.id, job);
    await this.prepare();
    await writeAtomic(join(this.dir, 'batches', `${job.batch.id}.json`), text);
  }

  /**
   * Deletes what is past `retentionMs`: finished jobs (by when they ended) with their result files,
   * and files (by when they were made) that no unfinished job reads; and contents without a record
   * that no job writes (an upload cut between its rename and its record). Returns how many jobs and
   * files went.
   */
  async sweep(now: number, retentionMs: number): Promise<{ jobs: number; files: number }> {
    const cutoff = Math.floor((now - retentionMs) / 1000);
    let jobs = 0;
    let files = 0;
    for (const job of [...this.jobs.values()]) {
      const b = job.batch;
      const ended = b.completed_at ?? b.failed_at ?? b.cancelled_at ?? b.expired_at;
      if (!isFinished(b.status) || ended === null || ended > cutoff) continue;
      this.jobs.delete(b.id);
      await unlink(join(this.dir, 'batches', `${b.id}.json`)).catch(ignoreMissing);
      await unlink(join(this.dir, 'batches', `${b.id}.cancel`)).catch(ignoreMissing);
      for (const id of [job.outputId, job.errorId]) await this.deleteFile(id);
      jobs++;
    }
    const inUse = new Set<string>();
    for (const job of this.jobs.values()) if (!isFinished(job.batch.status)) inUse.add(job.batch.input_file_id);
    for (const rec of [...this.files.values()]) {
      if (rec.file.created_at > cutoff || inUse.has(rec.file.id)) continue;
      await this.deleteFile(rec.file.id);
      files++;
    }
    const writing = new Set<string>();
    for (const job of this.jobs.values()) writing.add(job.outputId).add(job.errorId);
    for (const name of await list(join(this.dir, 'files'))) {
      const id = name.replace(/\.jsonl$/, '');
      if (id === name || this.files.has(id) || writing.has(id)) continue;
      // Only contents old enough not to be an upload between its rename and its record.
      const s = await stat(join(this.dir, 'files', name)).catch(() => undefined);
      if (s && s.mtimeMs < now - 60_000) await unlink(join(this.dir, 'files', name)).catch(ignoreMissing);
    }
    if (this.shared) {
      // Not emptied at open (another replica's uploads may be arriving): an upload untouched for an hour was cut off.
      for (const name of await list(join(this.dir, 'tmp'))) {
        const s = await stat(join(this.dir, 'tmp', name)).catch(() => undefined);
        if (s && s.mtimeMs < now - 3_600_000) await unlink(join(this.dir, 'tmp', name)).catch(ignoreMissing);
      }
    }
    return { jobs, files };
  }

  private async prepare(): Promise<void> {
    if (this.made) return;
    for (const d of ['files', 'batches', 'tmp']) await ensureDir(join(this.dir, d));
    this.made = true;
  }
}

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

async function readRecord<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    // Records are replaced atomically, so a bad one is damage from outside: skipped, not fatal.
    return undefined;
  }
}

function ignoreMissing(e: unknown): void {
  if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
}

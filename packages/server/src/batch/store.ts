import { readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDir, newId, syncDir, writeAtomic } from './disk';
import { type FileObject, type FileRecord, isFinished, type JobRecord } from './types';

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
 * Records are small and read into memory at start; contents are only ever streamed.
 */
export class BatchStore {
  readonly files = new Map<string, FileRecord>();
  readonly jobs = new Map<string, JobRecord>();
  private made = false;

  private constructor(readonly dir: string) {}

  /** Opens the store at `dir`, reading every record; an absent directory is an empty store, made on the first write. */
  static async open(dir: string): Promise<BatchStore> {
    const s = new BatchStore(dir);
    await rm(join(dir, 'tmp'), { recursive: true, force: true });
    for (const name of await list(join(dir, 'files'))) {
      if (!name.endsWith('.json')) continue;
      const rec = await readRecord<FileRecord>(join(dir, 'files', name));
      if (rec) s.files.set(rec.file.id, rec);
    }
    for (const name of await list(join(dir, 'batches'))) {
      if (!name.endsWith('.json')) continue;
      const rec = await readRecord<JobRecord>(join(dir, 'batches', name));
      if (rec) s.jobs.set(rec.batch.id, rec);
    }
    return s;
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

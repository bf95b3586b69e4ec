/**
 * The directory job of `ollama-ring batch run --dir`: one batch line per file matching a glob,
 * the file's text put into a prompt template.
 */
import { opendir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { BatchLine, ResultLine } from '../batch/types';
import { newId } from '../batch/disk';
import { UsageError } from './types';

/** The endpoints a directory job may call, and the default. */
export const DIR_ENDPOINTS = ['/api/generate', '/api/chat', '/v1/chat/completions'] as const;
export type DirEndpoint = (typeof DIR_ENDPOINTS)[number];
export const DEFAULT_DIR_ENDPOINT: DirEndpoint = '/api/generate';

export interface DirJob {
  dir: string;
  /** A glob relative to `dir`: `*` and `?` within a path segment, `**` any number of segments, `{a,b}` either. */
  pattern: string;
  model: string;
  /** `{{content}}` becomes the file's text and `{{path}}` its relative path; without `{{content}}` the text follows the prompt. */
  prompt: string;
  endpoint: DirEndpoint;
  /** `--option k=v`: the model options of a native endpoint, top-level fields of an OpenAI one. */
  options: Record<string, unknown>;
  /** A file larger than this gets an error line instead of a request. */
  maxFileBytes: number;
}

/**
 * A glob as a regular expression over `/`-separated relative paths.
 *
 * @example globRegExp('**\/*.md').test('docs/a/b.md'); // true
 */
export function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches zero or more whole segments; a trailing `**` matches everything below.
      if (pattern[i + 2] === '/') {
        re += '(?:[^/]+/)*';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '{') {
      const close = pattern.indexOf('}', i);
      if (close === -1) throw new UsageError(`--pattern has an unclosed '{': '${pattern}'`);
      re += `(?:${pattern
        .slice(i + 1, close)
        .split(',')
        .map((alt) => globRegExp(alt).source.slice(1, -1))
        .join('|')})`;
      i = close;
    } else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * The files under `dir` whose relative path matches `pattern`, sorted, as `/`-separated relative
 * paths. As in a shell, hidden files and directories (`.git/`) are passed over unless the pattern
 * names one (`.github/**`, `**\/.env`); symbolic links are not followed.
 */
export async function matchingFiles(dir: string, pattern: string): Promise<string[]> {
  const glob = pattern.replace(/^\.\//, '');
  const re = globRegExp(glob);
  const hidden = /(^|\/)\./.test(glob);
  const found: string[] = [];
  const walk = async (at: string): Promise<void> => {
    for await (const entry of await opendir(at)) {
      if (entry.name.startsWith('.') && !hidden) continue;
      const full = join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        const rel = relative(dir, full).split(sep).join('/');
        if (re.test(rel)) found.push(rel);
      }
    }
  };
  try {
    await walk(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UsageError(`--dir ${dir} is not a directory`);
    throw e;
  }
  return found.sort();
}

/** `--option k=v` values: JSON when they parse (numbers, booleans), text otherwise. */
export function parseOptions(pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new UsageError(`--option must be key=value, got '${p}'`);
    const raw = p.slice(eq + 1);
    let v: unknown = raw;
    try {
      v = JSON.parse(raw);
    } catch {
      // Plain text, such as a stop word.
    }
    out[p.slice(0, eq)] = v;
  }
  return out;
}

/** The request body for one file's prompt. */
function bodyFor(job: DirJob, prompt: string): Record<string, unknown> {
  const native = job.endpoint !== '/v1/chat/completions';
  const extra = Object.keys(job.options).length === 0 ? {} : native ? { options: job.options } : job.options;
  if (job.endpoint === '/api/generate') return { model: job.model, prompt, ...extra };
  return { model: job.model, messages: [{ role: 'user', content: prompt }], ...extra };
}

/** The prompt for a file: the template with `{{content}}` and `{{path}}` filled in. */
export function fillPrompt(template: string, path: string, content: string): string {
  const withContent = template.includes('{{content}}') ? template : `${template}\n\n{{content}}`;
  // One pass, so that text inside the file that looks like a placeholder is left alone.
  return withContent.replace(/\{\{(content|path)\}\}/g, (_m, key: string) => (key === 'content' ? content : path));
}

/** What a file becomes: a batch line, or an error line when it cannot be sent. */
export type DirItem = { line: BatchLine } | { error: ResultLine };

/** The line (or error line) for each of `files` (relative paths from {@link matchingFiles}), read one at a time. */
export async function* dirItems(job: DirJob, files: readonly string[]): AsyncGenerator<DirItem> {
  for (const rel of files) {
    const full = join(job.dir, ...rel.split('/'));
    const { size } = await stat(full);
    if (size > job.maxFileBytes) {
      const message = `${rel} is ${size} bytes, over the ${job.maxFileBytes}-byte limit (--max-file-bytes)`;
      yield { error: { id: newId('batch_req_'), custom_id: rel, response: null, error: { code: 'file_too_large', message } } };
      continue;
    }
    const content = await readFile(full, 'utf8');
    yield { line: { custom_id: rel, method: 'POST', url: job.endpoint, body: bodyFor(job, fillPrompt(job.prompt, rel, content)) } };
  }
}

import { createReadStream } from 'node:fs';
import { LineSplitter } from '@ollama-ring/protocol';
import { BATCH_ENDPOINTS, type BatchErrorEntry, type BatchLine } from './types';

/** The most validation errors a failed batch lists (OpenAI's `errors.data`); the count says how many more. */
export const MAX_LISTED_ERRORS = 100;

/** The non-blank lines of a JSONL file with their 1-based line numbers, read as a stream. */
export async function* jsonlLines(path: string): AsyncGenerator<{ line: number; text: string }> {
  const split = new LineSplitter();
  let n = 0;
  for await (const chunk of createReadStream(path)) {
    for (const text of split.push(chunk as Buffer)) {
      n++;
      if (text.trim() !== '') yield { line: n, text };
    }
  }
  const last = split.end();
  n++;
  if (last.trim() !== '') yield { line: n, text: last };
}

const fail = (line: number, code: string, message: string, param: string | null = null): BatchErrorEntry => ({ code, message, param, line });

/**
 * One input line checked against OpenAI's rules: a JSON object with a string `custom_id` not seen
 * before in the file, `method` POST, `url` the batch's endpoint, and a `body` object naming a `model`.
 *
 * @example checkLine('{"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"model":"m","input":"x"}}', 1, '/v1/embeddings', new Set());
 */
export function checkLine(text: string, line: number, endpoint: string, seen: Set<string>): BatchLine | BatchErrorEntry {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return fail(line, 'invalid_json_line', `line ${line} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(line, 'invalid_request', `line ${line} is not a JSON object`);
  const o = v as Record<string, unknown>;
  if (typeof o.custom_id !== 'string' || o.custom_id === '') return fail(line, 'missing_required_parameter', `line ${line}: custom_id must be a non-empty string`, 'custom_id');
  if (seen.has(o.custom_id)) return fail(line, 'duplicate_custom_id', `line ${line}: custom_id '${o.custom_id}' appears on an earlier line; each must be unique`, 'custom_id');
  seen.add(o.custom_id);
  if (o.method !== 'POST') return fail(line, 'invalid_method', `line ${line}: method must be POST`, 'method');
  if (typeof o.url !== 'string' || !(o.url in BATCH_ENDPOINTS)) {
    return fail(line, 'invalid_url', `line ${line}: url must be one of ${Object.keys(BATCH_ENDPOINTS).join(', ')}`, 'url');
  }
  if (o.url !== endpoint) return fail(line, 'mismatched_endpoint', `line ${line}: url ${o.url} is not the batch's endpoint ${endpoint}`, 'url');
  const body = o.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail(line, 'invalid_request', `line ${line}: body must be a JSON object`, 'body');
  const model = (body as Record<string, unknown>).model;
  if (typeof model !== 'string' || model.trim() === '') return fail(line, 'missing_required_parameter', `line ${line}: body.model must be a non-empty string`, 'body.model');
  return { custom_id: o.custom_id, method: 'POST', url: o.url, body: body as Record<string, unknown> };
}

/** What validating a file found: its line count and the first {@link MAX_LISTED_ERRORS} errors, with the count of all. */
export interface Validation {
  total: number;
  errors: BatchErrorEntry[];
  errorCount: number;
}

/** Checks every line of the input file at `path` for a batch on `endpoint`. */
export async function validateInput(path: string, endpoint: string): Promise<Validation> {
  const seen = new Set<string>();
  const errors: BatchErrorEntry[] = [];
  let total = 0;
  let errorCount = 0;
  for await (const { line, text } of jsonlLines(path)) {
    total++;
    const r = checkLine(text, line, endpoint, seen);
    if ('code' in r) {
      errorCount++;
      if (errors.length < MAX_LISTED_ERRORS) errors.push(r);
    }
  }
  if (total === 0) errors.push({ code: 'empty_file', message: 'the input file has no lines', param: 'input_file_id', line: null });
  return { total, errors, errorCount: errorCount + (total === 0 ? 1 : 0) };
}

/** The lines of an input file that passed {@link validateInput}, in order. */
export async function* inputLines(path: string, endpoint: string): AsyncGenerator<BatchLine> {
  const seen = new Set<string>();
  for await (const { line, text } of jsonlLines(path)) {
    const r = checkLine(text, line, endpoint, seen);
    // The file was validated whole before the job ran; a line failing now means it changed on disk.
    if ('code' in r) throw new Error(`input line ${line} no longer validates: ${r.message}`);
    yield r;
  }
}

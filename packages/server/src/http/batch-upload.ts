import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { syncFile } from '../batch/disk';
import { sendError } from './errors';

/** An upload received whole, flushed to disk at `path`. */
export interface Upload {
  path: string;
  bytes: number;
  filename: string;
}

/**
 * Receives `POST /v1/files`'s multipart body (OpenAI's form: a `file` part and a `purpose` field,
 * in either order), streaming the file to `tmp` as it arrives, never holding it whole. Answers 400
 * (not multipart, no file, a purpose other than `batch`) or 413 (over `maxBytes`, the rest of the
 * body not read) in OpenAI's shape and returns undefined; the partial file is removed.
 */
export async function receiveUpload(req: IncomingMessage, res: ServerResponse, tmp: string, maxBytes: number): Promise<Upload | undefined> {
  if (!/^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) {
    sendError(res, 400, 'the body must be multipart/form-data with a file and purpose=batch', 'openai');
    return undefined;
  }
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: req.headers, limits: { files: 1, fileSize: maxBytes, fields: 16, parts: 32 } });
  } catch (e) {
    sendError(res, 400, `malformed multipart body: ${(e as Error).message}`, 'openai');
    return undefined;
  }
  let purpose: string | undefined;
  let filename = 'upload.jsonl';
  let bytes = 0;
  let tooLarge = false;
  let written: Promise<void> | undefined;
  const done = new Promise<void>((resolve, reject) => {
    bb.on('field', (name, value) => {
      if (name === 'purpose') purpose = value;
    });
    bb.on('file', (name, stream, info) => {
      if (name !== 'file' || written) {
        stream.resume();
        return;
      }
      filename = info.filename || filename;
      stream.on('data', (c: Buffer) => void (bytes += c.length));
      stream.on('limit', () => {
        // Over the cap: stop reading the body now rather than after gigabytes more.
        tooLarge = true;
        req.unpipe(bb);
        resolve();
      });
      written = pipeline(stream, createWriteStream(tmp));
    });
    bb.on('close', resolve);
    bb.on('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('the client went away'));
    });
  });
  const fail = async (status: number, message: string): Promise<undefined> => {
    await written?.catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    sendError(res, status, message, 'openai');
    if (status === 413) res.once('finish', () => req.destroy());
    return undefined;
  };
  req.pipe(bb);
  try {
    await done;
    await written;
  } catch (e) {
    return fail(400, `the upload failed: ${(e as Error).message}`);
  }
  if (tooLarge) return fail(413, `the file is larger than batch.maxFileBytes (${maxBytes} bytes)`);
  if (!written) return fail(400, "the form has no 'file' part");
  if (purpose !== 'batch') return fail(400, `purpose must be 'batch' (got ${purpose === undefined ? 'none' : `'${purpose}'`})`);
  await syncFile(tmp);
  return { path: tmp, bytes, filename };
}

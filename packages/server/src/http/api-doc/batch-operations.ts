import type { OperationDoc } from './operation-types';
import { ref } from './schema-kit';

const openai = (summary: string, ok: OperationDoc['ok'], more: Partial<OperationDoc> = {}): OperationDoc => ({
  summary,
  tag: 'OpenAI',
  access: 'client',
  errors: 'openai',
  ok,
  ...more,
});
const noFile = { 404: 'No such file, or another API key made it' };
const noBatch = { 404: 'No such batch, or another API key made it' };

/** OpenAI's Files and Batch APIs (`batch-routes.ts`). */
export const BATCH_OPERATIONS: Readonly<Record<string, Partial<Record<'get' | 'post' | 'delete', OperationDoc>>>> = {
  '/v1/files': {
    post: openai(
      'Upload a batch input file',
      { 200: { description: 'The file', schema: ref('OpenAIFile') } },
      {
        description: 'Multipart: a `file` part (JSONL, one request a line) and `purpose=batch`. Streamed to disk; it must arrive within `server.blobUploadTimeoutMs`.',
        body: ref('FileUpload'),
        bodyType: 'multipart/form-data',
        failures: { 400: 'Not multipart, no file, or a purpose other than `batch`', 413: 'Over `batch.maxFileBytes`' },
      },
    ),
    get: openai(
      "The caller's files, newest first (`after`, `limit`, `order`, `purpose`)",
      { 200: { description: 'Files', schema: ref('OpenAIFileList') } },
      { failures: { 400: 'A bad `limit` or `order`' } },
    ),
  },
  '/v1/files/:id': {
    get: openai('One file', { 200: { description: 'The file', schema: ref('OpenAIFile') } }, { failures: noFile }),
    delete: openai(
      'Delete a file',
      { 200: { description: 'Deleted', schema: ref('OpenAIFileDeleted') } },
      { failures: { ...noFile, 409: 'It is the input of a batch that has not ended' } },
    ),
  },
  '/v1/files/:id/content': {
    get: openai(
      "A file's content: an input file, or a batch's output or error file (JSONL, one result a line)",
      { 200: { description: 'The content', schema: { type: 'string' }, types: ['application/octet-stream'] } },
      { failures: noFile },
    ),
  },
  '/v1/batches': {
    post: openai(
      'Create a batch over an uploaded file',
      { 200: { description: 'The batch, `validating`', schema: ref('Batch') } },
      {
        description:
          "Each line `{custom_id, method: POST, url, body}` with `url` the batch's endpoint runs through the pool as a request of class `batch`. A file with bad lines ends `failed`, its `errors` naming each line.",
        body: ref('BatchRequest'),
        failures: { 404: 'No such input file' },
      },
    ),
    get: openai("The caller's batches, newest first (`after`, `limit`)", { 200: { description: 'Batches', schema: ref('BatchList') } }, { failures: { 400: 'A bad `limit`' } }),
  },
  '/v1/batches/:id': { get: openai('One batch, with its progress', { 200: { description: 'The batch', schema: ref('Batch') } }, { failures: noBatch }) },
  '/v1/batches/:id/cancel': {
    post: openai(
      'Cancel a batch: no more lines start, running ones are aborted',
      { 200: { description: 'The batch, `cancelling`', schema: ref('Batch') } },
      { failures: { ...noBatch, 409: 'It has already ended' } },
    ),
  },
};

import { arr, int, map, nullable, obj, ref, type Schema, str } from './schema-kit';

// The bodies of OpenAI's Files and Batch APIs as `batch-routes.ts` writes them (`batch/types.ts`).

const STATUSES = ['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled'];
const time = nullable(int('Unix seconds'));
const list = (item: string): Schema =>
  obj({ object: { const: 'list' }, data: arr(ref(item)), first_id: nullable(str()), last_id: nullable(str()), has_more: { type: 'boolean' } }, ['object', 'data', 'has_more']);

/** Component schemas of the Files and Batch APIs, by name. */
export const BATCH_SCHEMAS: Record<string, Schema> = {
  FileUpload: obj({ file: { type: 'string', contentMediaType: 'application/octet-stream', description: 'JSONL: one request a line' }, purpose: { const: 'batch' } }, [
    'file',
    'purpose',
  ]),
  OpenAIFile: obj(
    {
      id: str(),
      object: { const: 'file' },
      bytes: int(),
      created_at: int('Unix seconds'),
      filename: str(),
      purpose: { type: 'string', enum: ['batch', 'batch_output'] },
      status: str(),
      expires_at: time,
    },
    ['id', 'object', 'bytes', 'created_at', 'filename', 'purpose'],
  ),
  OpenAIFileList: list('OpenAIFile'),
  OpenAIFileDeleted: obj({ id: str(), object: { const: 'file' }, deleted: { type: 'boolean' } }, ['id', 'object', 'deleted']),
  BatchRequest: obj(
    {
      input_file_id: str('A file uploaded with purpose `batch`'),
      endpoint: { type: 'string', enum: ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/api/chat', '/api/generate', '/api/embed'] },
      completion_window: { const: '24h' },
      metadata: nullable(map(str(), 'Up to 16 pairs')),
    },
    ['input_file_id', 'endpoint', 'completion_window'],
  ),
  Batch: obj(
    {
      id: str(),
      object: { const: 'batch' },
      endpoint: str(),
      errors: nullable(obj({ object: { const: 'list' }, data: arr(obj({ code: str(), message: str(), param: nullable(str()), line: nullable(int('1-based')) })) })),
      input_file_id: str(),
      completion_window: str(),
      status: { type: 'string', enum: STATUSES },
      output_file_id: nullable(str('The successful lines, once it has ended')),
      error_file_id: nullable(str('The failed (or cancelled, expired) lines, once it has ended')),
      created_at: int('Unix seconds'),
      in_progress_at: time,
      expires_at: time,
      finalizing_at: time,
      completed_at: time,
      failed_at: time,
      expired_at: time,
      cancelling_at: time,
      cancelled_at: time,
      request_counts: obj({ total: int(), completed: int(), failed: int() }, ['total', 'completed', 'failed']),
      metadata: nullable(map(str())),
    },
    ['id', 'object', 'endpoint', 'input_file_id', 'completion_window', 'status', 'created_at', 'request_counts'],
  ),
  BatchList: list('Batch'),
};

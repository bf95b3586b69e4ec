import { Route } from '@ollama-ring/protocol';

/** The URLs a batch line may call, and the pipeline route each goes to. */
export const BATCH_ENDPOINTS: Readonly<Record<string, Route>> = {
  '/v1/chat/completions': Route.OpenAIChat,
  '/v1/completions': Route.OpenAICompletions,
  '/v1/embeddings': Route.OpenAIEmbeddings,
  '/api/chat': Route.Chat,
  '/api/generate': Route.Generate,
  '/api/embed': Route.Embed,
};

export type BatchStatus = 'validating' | 'failed' | 'in_progress' | 'finalizing' | 'completed' | 'expired' | 'cancelling' | 'cancelled';

/** A status no job leaves. */
export function isFinished(s: BatchStatus): boolean {
  return s === 'failed' || s === 'completed' || s === 'expired' || s === 'cancelled';
}

/** One entry of a batch's `errors.data` (OpenAI's shape): a validation failure, by input line when it has one. */
export interface BatchErrorEntry {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

/** A batch as OpenAI's API answers it. */
export interface BatchObject {
  id: string;
  object: 'batch';
  endpoint: string;
  errors: { object: 'list'; data: BatchErrorEntry[] } | null;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  output_file_id: string | null;
  error_file_id: string | null;
  created_at: number;
  in_progress_at: number | null;
  expires_at: number;
  finalizing_at: number | null;
  completed_at: number | null;
  failed_at: number | null;
  expired_at: number | null;
  cancelling_at: number | null;
  cancelled_at: number | null;
  request_counts: { total: number; completed: number; failed: number };
  metadata: Record<string, string> | null;
}

/** A file as OpenAI's API answers it. */
export interface FileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: 'batch' | 'batch_output';
  status: 'processed';
  expires_at: number | null;
  status_details: null;
}

/** A file's record on disk: the object and who owns it. */
export interface FileRecord {
  file: FileObject;
  /** The owner's fingerprint (see `ownerOf`). */
  owner: string;
}

/** A job's record on disk: the batch, who owns it, and where its results go before they are files. */
export interface JobRecord {
  batch: BatchObject;
  owner: string;
  /** The content files its results are appended to; they become `output_file_id` / `error_file_id` when it ends. */
  outputId: string;
  errorId: string;
}

/** What a new job is asked with (`POST /v1/batches`). */
export interface JobParams {
  input_file_id: string;
  endpoint: string;
  completion_window: string;
  metadata: Record<string, string> | null;
}

/** OpenAI's completion window: a job not done within it expires. */
const COMPLETION_WINDOW_SEC = 24 * 3600;

/** A new job's record (`validating`, nothing run yet), made at `now` (Unix seconds). */
export function newJobRecord(ids: { id: string; outputId: string; errorId: string }, owner: string, params: JobParams, now: number): JobRecord {
  return {
    owner,
    outputId: ids.outputId,
    errorId: ids.errorId,
    batch: {
      id: ids.id,
      object: 'batch',
      endpoint: params.endpoint,
      errors: null,
      input_file_id: params.input_file_id,
      completion_window: params.completion_window,
      status: 'validating',
      output_file_id: null,
      error_file_id: null,
      created_at: now,
      in_progress_at: null,
      expires_at: now + COMPLETION_WINDOW_SEC,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      request_counts: { total: 0, completed: 0, failed: 0 },
      metadata: params.metadata,
    },
  };
}

/** One line of an input file, once checked. */
export interface BatchLine {
  custom_id: string;
  method: 'POST';
  url: string;
  body: Record<string, unknown>;
}

/** One line of an output or error file (OpenAI's shape). */
export interface ResultLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: unknown } | null;
  error: { code: string; message: string } | null;
}

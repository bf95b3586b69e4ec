/**
 * The soak's requests: native and OpenAI, streamed and not, generation and embeddings. Each kind
 * knows how to count the ends in its answer: a stream ends with its final `done` chunk (or
 * `[DONE]`), or with one error; a single body is one answer or one error. A request must end
 * exactly once: no end (a stream cut off cleanly) and two ends (an error after the done chunk, or
 * an error twice) are both violations.
 */
import { errorMessageOf } from '@ollama-ring/protocol';

export type Kind = 'generate' | 'generate-stream' | 'chat' | 'chat-stream' | 'embed' | 'openai-chat' | 'openai-chat-stream' | 'openai-completions-stream' | 'openai-embeddings';

export const KINDS: readonly Kind[] = [
  'generate',
  'generate-stream',
  'chat',
  'chat-stream',
  'embed',
  'openai-chat',
  'openai-chat-stream',
  'openai-completions-stream',
  'openai-embeddings',
];

export interface RequestSpec {
  kind: Kind;
  path: string;
  body: string;
  flavor: 'ollama' | 'openai';
  /** The answer is a stream (NDJSON or SSE), not one JSON body. */
  stream: boolean;
}

/** A request of `kind` asking for `tokens` tokens. */
export function requestOf(kind: Kind, tokens: number, model = 'llama3.2'): RequestSpec {
  const messages = [{ role: 'user', content: `soak ${tokens}` }];
  const native = (path: string, body: object, stream: boolean): RequestSpec => ({ kind, path, body: JSON.stringify(body), flavor: 'ollama', stream });
  const openai = (path: string, body: object, stream: boolean): RequestSpec => ({ kind, path, body: JSON.stringify(body), flavor: 'openai', stream });
  switch (kind) {
    case 'generate':
      return native('/api/generate', { model, prompt: 'soak', stream: false, options: { num_predict: tokens } }, false);
    case 'generate-stream':
      return native('/api/generate', { model, prompt: 'soak', options: { num_predict: tokens } }, true);
    case 'chat':
      return native('/api/chat', { model, messages, stream: false, options: { num_predict: tokens } }, false);
    case 'chat-stream':
      return native('/api/chat', { model, messages, options: { num_predict: tokens } }, true);
    case 'embed':
      return native('/api/embed', { model: 'nomic-embed-text', input: ['soak', 'test'] }, false);
    case 'openai-chat':
      return openai('/v1/chat/completions', { model, messages, max_tokens: tokens }, false);
    case 'openai-chat-stream':
      return openai('/v1/chat/completions', { model, messages, max_tokens: tokens, stream: true }, true);
    case 'openai-completions-stream':
      return openai('/v1/completions', { model, prompt: 'soak', max_tokens: tokens, stream: true }, true);
    case 'openai-embeddings':
      return openai('/v1/embeddings', { model: 'nomic-embed-text', input: 'soak' }, false);
  }
}

/** What the ends of an answer came to. */
export interface Ends {
  /** End markers seen: a final chunk, `[DONE]`, an answer body, or an error (in-band or as the body). */
  count: number;
  /** An error among them (its message). */
  error?: string;
  /** Data after the first end: another line or event once the stream had ended. */
  afterEnd: boolean;
}

/**
 * Counts the ends of a whole answer body of `status`. Streams are read line by line (NDJSON) or
 * event by event (SSE); anything else is one JSON body.
 */
export function countEnds(spec: RequestSpec, status: number, contentType: string, text: string): Ends {
  const ends: Ends = { count: 0, afterEnd: false };
  const end = (error?: string): void => {
    ends.count++;
    if (error !== undefined && ends.error === undefined) ends.error = error;
  };
  if (status !== 200 || !(contentType.includes('ndjson') || contentType.includes('event-stream'))) {
    const message = errorMessageOf(text);
    if (message !== undefined) end(message);
    else if (status === 200 && isAnswer(text)) end();
    return ends;
  }
  const sse = contentType.includes('event-stream');
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    if (line === '') continue;
    if (sse) {
      if (!line.startsWith('data:')) continue;
      line = line.slice(5).trim();
      if (line === '[DONE]') {
        if (ends.count > 0) ends.afterEnd = true;
        end();
        continue;
      }
    }
    if (ends.count > 0) ends.afterEnd = true;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const message = errorMessageOf(line);
    if (message !== undefined) end(message);
    else if (!sse && obj.done === true) end();
  }
  return ends;
}

/** A complete non-streamed answer: Ollama's final object, or OpenAI's completion or embeddings. */
function isAnswer(text: string): boolean {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    return v.done === true || Array.isArray(v.embeddings) || Array.isArray(v.choices) || Array.isArray(v.data);
  } catch {
    return false;
  }
}

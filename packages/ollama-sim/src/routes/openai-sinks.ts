/**
 * Writers of `/v1/chat/completions` and `/v1/completions` output: SSE events (`data: …\n\n`, ending in
 * `data: [DONE]`) or one JSON object, in the key orders of Ollama's OpenAI layer.
 */
import type { ServerResponse } from 'node:http';
import { ERROR_CONTENT_TYPE, SSE_CONTENT_TYPE, SSE_DONE, openAIErrorBody, sseEvent } from '@ollama-ring/protocol';
import type { FinalMetrics, GenerationSink } from '../generation';
import type { NativeToolCall, Piece } from '../text';

type Reason = 'stop' | 'length' | 'tool_calls';

/** OpenAI's error shape, with Ollama's status and the native message. */
export function sendOpenAIError(res: ServerResponse, status: number, message: string): void {
  const body = openAIErrorBody(status, message);
  res.writeHead(status, { 'Content-Type': ERROR_CONTENT_TYPE.openai, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function usage(m: FinalMetrics | undefined): string {
  const p = m?.prompt_eval_count ?? 0;
  const c = m?.eval_count ?? 0;
  return `{"prompt_tokens":${p},"completion_tokens":${c},"total_tokens":${p + c}}`;
}

/** Tool calls as OpenAI writes them: `arguments` is a JSON string and each call has a type. */
function openaiCalls(calls: NativeToolCall[]): string {
  return JSON.stringify(calls.map((c, i) => ({ id: c.id, index: i, type: 'function', function: { name: c.function.name, arguments: JSON.stringify(c.function.arguments) } })));
}

abstract class OpenAISink implements GenerationSink {
  protected begun = false;
  protected readonly id: string;
  protected readonly modelJson: string;
  /** `created` is pinned to the first chunk's second for the whole stream. */
  protected readonly created = Math.floor(Date.now() / 1000);

  constructor(
    protected readonly res: ServerResponse,
    echo: string,
    prefix: string,
    protected readonly includeUsage: boolean,
  ) {
    this.id = `${prefix}-${Math.floor(Math.random() * 999)}`;
    this.modelJson = JSON.stringify(echo);
  }

  abstract piece(p: Piece): void;
  abstract toolCalls(calls: NativeToolCall[]): void;
  abstract done(m: FinalMetrics, reason: 'stop' | 'length'): void;
  /** The chunk Ollama's writer emits when it decodes a native error line as an empty response. */
  protected abstract spuriousChunk(): string;

  protected event(json: string): void {
    if (!this.begun) {
      this.begun = true;
      this.res.writeHead(200, { 'Content-Type': SSE_CONTENT_TYPE, 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    }
    this.res.write(sseEvent(json));
  }

  error(status: number, message: string): void {
    if (this.res.destroyed) return;
    if (!this.begun) {
      sendOpenAIError(this.res, status, message);
      return;
    }
    // Faithful to Ollama: the in-band error becomes one empty chunk, then the stream just stops,
    // with neither [DONE] nor an error event.
    this.res.write(sseEvent(this.spuriousChunk()));
    this.res.end();
  }

  destroy(): void {
    // Writes are corked until the next tick; let the last tokens reach the wire, then cut.
    const socket = this.res.socket;
    setImmediate(() => {
      socket?.destroy();
      this.res.destroy();
    });
  }
}

export class ChatCompletionStreamSink extends OpenAISink {
  private roleSent = false;
  private sawTools = false;

  constructor(res: ServerResponse, echo: string, includeUsage: boolean) {
    super(res, echo, 'chatcmpl', includeUsage);
  }

  private chunk(delta: string, finish: string): string {
    return `{"id":"${this.id}","object":"chat.completion.chunk","created":${this.created},"model":${this.modelJson},"system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":${delta},"finish_reason":${finish}}]}`;
  }

  private role(): string {
    if (this.roleSent) return '';
    this.roleSent = true;
    return '"role":"assistant",';
  }

  piece(p: Piece): void {
    const delta = p.thinking ? `{${this.role()}"content":"","reasoning":${JSON.stringify(p.text)}}` : `{${this.role()}"content":${JSON.stringify(p.text)}}`;
    this.event(this.chunk(delta, 'null'));
  }

  toolCalls(calls: NativeToolCall[]): void {
    this.sawTools = true;
    this.event(this.chunk(`{${this.role()}"content":"","tool_calls":${openaiCalls(calls)}}`, 'null'));
  }

  done(m: FinalMetrics, reason: 'stop' | 'length'): void {
    const finish: Reason = this.sawTools && reason === 'stop' ? 'tool_calls' : reason;
    this.event(this.chunk('{}', `"${finish}"`));
    if (this.includeUsage) {
      this.event(
        `{"id":"${this.id}","object":"chat.completion.chunk","created":${this.created},"model":${this.modelJson},"system_fingerprint":"fp_ollama","choices":[],"usage":${usage(m)}}`,
      );
    }
    this.res.write(SSE_DONE);
    this.res.end();
  }

  protected spuriousChunk(): string {
    return this.chunk('{"content":""}', 'null');
  }
}

export class ChatCompletionJsonSink extends OpenAISink {
  private content = '';
  private reasoning = '';
  private calls: NativeToolCall[] = [];

  constructor(res: ServerResponse, echo: string) {
    super(res, echo, 'chatcmpl', false);
  }

  piece(p: Piece): void {
    if (p.thinking) this.reasoning += p.text;
    else this.content += p.text;
  }

  toolCalls(calls: NativeToolCall[]): void {
    this.calls.push(...calls);
  }

  done(m: FinalMetrics, reason: 'stop' | 'length'): void {
    const finish: Reason = this.calls.length > 0 && reason === 'stop' ? 'tool_calls' : reason;
    const r = this.reasoning ? `,"reasoning":${JSON.stringify(this.reasoning)}` : '';
    const t = this.calls.length > 0 ? `,"tool_calls":${openaiCalls(this.calls)}` : '';
    const body = `{"id":"${this.id}","object":"chat.completion","created":${this.created},"model":${this.modelJson},"system_fingerprint":"fp_ollama","choices":[{"index":0,"message":{"role":"assistant","content":${JSON.stringify(this.content)}${r}${t}},"finish_reason":"${finish}"}],"usage":${usage(m)}}`;
    this.begun = true;
    this.res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    this.res.end(body);
  }

  protected spuriousChunk(): string {
    return '';
  }
}

const ZERO_USAGE = ',"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}';

export class CompletionStreamSink extends OpenAISink {
  constructor(res: ServerResponse, echo: string, includeUsage: boolean) {
    super(res, echo, 'cmpl', includeUsage);
  }

  private chunk(text: string, finish: string): string {
    const u = this.includeUsage ? ZERO_USAGE : '';
    return `{"id":"${this.id}","object":"text_completion","created":${this.created},"choices":[{"text":${text},"index":0,"finish_reason":${finish}}],"model":${this.modelJson},"system_fingerprint":"fp_ollama"${u}}`;
  }

  piece(p: Piece): void {
    // The completions layer carries only response text; thinking has no field here.
    if (!p.thinking) this.event(this.chunk(JSON.stringify(p.text), 'null'));
  }

  toolCalls(): void {
    // /v1/completions has no tools.
  }

  done(m: FinalMetrics, reason: 'stop' | 'length'): void {
    this.event(this.chunk('""', `"${reason}"`));
    if (this.includeUsage) {
      this.event(
        `{"id":"${this.id}","object":"text_completion","created":${this.created},"choices":[],"model":${this.modelJson},"system_fingerprint":"fp_ollama","usage":${usage(m)}}`,
      );
    }
    this.res.write(SSE_DONE);
    this.res.end();
  }

  protected spuriousChunk(): string {
    return this.chunk('""', 'null');
  }
}

export class CompletionJsonSink extends OpenAISink {
  private text = '';

  constructor(res: ServerResponse, echo: string) {
    super(res, echo, 'cmpl', false);
  }

  piece(p: Piece): void {
    if (!p.thinking) this.text += p.text;
  }

  toolCalls(): void {
    // /v1/completions has no tools.
  }

  done(m: FinalMetrics, reason: 'stop' | 'length'): void {
    const body = `{"id":"${this.id}","object":"text_completion","created":${this.created},"model":${this.modelJson},"system_fingerprint":"fp_ollama","choices":[{"text":${JSON.stringify(this.text)},"index":0,"finish_reason":"${reason}"}],"usage":${usage(m)}}`;
    this.begun = true;
    this.res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    this.res.end(body);
  }

  protected spuriousChunk(): string {
    return '';
  }
}

/**
 * Writers of native `/api/generate` and `/api/chat` output: NDJSON lines in Ollama's key order for
 * streams, or one JSON object at the end. Lines are built as strings: at tens of thousands of
 * chunks per second, a template beats building an object and serialising it.
 */
import type { ServerResponse } from 'node:http';
import { NDJSON_CONTENT_TYPE, streamErrorLine } from '@ollama-ring/protocol';
import { createdAtNow } from '../durations';
import type { FinalMetrics, GenerationSink } from '../generation';
import { sendNativeError } from '../http-util';
import { contextTokens, type NativeToolCall, type Piece } from '../text';

/** The metrics, in Go's field order, with zero values left out (`omitempty`). */
function metricsJson(m: FinalMetrics): string {
  let s = '';
  if (m.total_duration) s += `,"total_duration":${m.total_duration}`;
  if (m.load_duration) s += `,"load_duration":${m.load_duration}`;
  if (m.prompt_eval_count) s += `,"prompt_eval_count":${m.prompt_eval_count}`;
  if (m.prompt_eval_duration) s += `,"prompt_eval_duration":${m.prompt_eval_duration}`;
  if (m.eval_count) s += `,"eval_count":${m.eval_count}`;
  if (m.eval_duration) s += `,"eval_duration":${m.eval_duration}`;
  return s;
}

const NDJSON_HEADERS = { 'Content-Type': NDJSON_CONTENT_TYPE };

/** Shared by the four native writers: headers on the first byte, errors before or after it. */
abstract class NativeSink implements GenerationSink {
  protected begun = false;
  protected readonly modelJson: string;

  constructor(
    protected readonly res: ServerResponse,
    echo: string,
  ) {
    this.modelJson = JSON.stringify(echo);
  }

  abstract piece(p: Piece): void;
  abstract toolCalls(calls: NativeToolCall[]): void;
  abstract done(m: FinalMetrics, reason: 'stop' | 'length'): void;

  protected line(text: string): void {
    if (!this.begun) {
      this.begun = true;
      this.res.writeHead(200, NDJSON_HEADERS);
    }
    this.res.write(text);
  }

  error(status: number, message: string): void {
    if (this.res.destroyed) return;
    if (!this.begun) {
      sendNativeError(this.res, status, message);
      return;
    }
    // After the first byte the status is fixed at 200: the error travels in-band as a last line.
    this.res.end(streamErrorLine('ollama', message));
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

export class GenerateStreamSink extends NativeSink {
  constructor(
    res: ServerResponse,
    echo: string,
    private readonly contextSeed: string | undefined,
    private readonly promptTokens: number,
  ) {
    super(res, echo);
  }

  piece(p: Piece): void {
    const text = JSON.stringify(p.text);
    this.line(
      p.thinking
        ? `{"model":${this.modelJson},"created_at":"${createdAtNow()}","response":"","thinking":${text},"done":false}\n`
        : `{"model":${this.modelJson},"created_at":"${createdAtNow()}","response":${text},"done":false}\n`,
    );
  }

  toolCalls(): void {
    // /api/generate takes no tools, so the planner never produces calls for it.
  }

  done(m: FinalMetrics, reason: 'stop' | 'length'): void {
    const ctx = this.contextSeed !== undefined ? `,"context":${JSON.stringify(contextTokens(this.contextSeed, this.promptTokens + m.eval_count))}` : '';
    this.line(`{"model":${this.modelJson},"created_at":"${createdAtNow()}","response":"","done":true,"done_reason":"${reason}"${ctx}${metricsJson(m)}}\n`);
    this.res.end();
  }
}

export class GenerateJsonSink extends NativeSink {
  private response = '';
  private thinking = '';

  constructor(
    res: ServerResponse,
    echo: string,
    private readonly contextSeed: string | undefined,
    private readonly promptTokens: number,
  ) {
    super(res, echo);
  }

  piece(p: Piece): void {
    if (p.thinking) this.thinking += p.text;
    else this.response += p.text;
  }

  toolCalls(): void {
    // See GenerateStreamSink.toolCalls.
  }

  done(m: FinalMetrics, reason: 'stop' | 'length'): void {
    const thinking = this.thinking ? `,"thinking":${JSON.stringify(this.thinking)}` : '';
    const ctx = this.contextSeed !== undefined ? `,"context":${JSON.stringify(contextTokens(this.contextSeed, this.promptTokens + m.eval_count))}` : '';
    const body = `{"model":${this.modelJson},"created_at":"${createdAtNow()}","response":${JSON.stringify(this.response)}${thinking},"done":true,"done_reason":"${reason}"${ctx}${metricsJson(m)}}`;
    this.begun = true;
    this.res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    this.res.end(body);
  }
}

function messageJson(content: string, thinking: string, calls: NativeToolCall[] | undefined): string {
  const t = thinking ? `,"thinking":${JSON.stringify(thinking)}` : '';
  const c = calls && calls.length > 0 ? `,"tool_calls":${JSON.stringify(calls)}` : '';
  return `{"role":"assistant","content":${JSON.stringify(content)}${t}${c}}`;
}

export class ChatStreamSink extends NativeSink {
  piece(p: Piece): void {
    const msg = p.thinking ? messageJson('', p.text, undefined) : messageJson(p.text, '', undefined);
    this.line(`{"model":${this.modelJson},"created_at":"${createdAtNow()}","message":${msg},"done":false}\n`);
  }

  toolCalls(calls: NativeToolCall[]): void {
    this.line(`{"model":${this.modelJson},"created_at":"${createdAtNow()}","message":${messageJson('', '', calls)},"done":false}\n`);
  }

  done(m: FinalMetrics, reason: 'stop' | 'length'): void {
    this.line(`{"model":${this.modelJson},"created_at":"${createdAtNow()}","message":{"role":"assistant","content":""},"done":true,"done_reason":"${reason}"${metricsJson(m)}}\n`);
    this.res.end();
  }
}

export class ChatJsonSink extends NativeSink {
  private content = '';
  private thinking = '';
  private calls: NativeToolCall[] = [];

  piece(p: Piece): void {
    if (p.thinking) this.thinking += p.text;
    else this.content += p.text;
  }

  toolCalls(calls: NativeToolCall[]): void {
    this.calls.push(...calls);
  }

  done(m: FinalMetrics, reason: 'stop' | 'length'): void {
    const body = `{"model":${this.modelJson},"created_at":"${createdAtNow()}","message":${messageJson(this.content, this.thinking, this.calls)},"done":true,"done_reason":"${reason}"${metricsJson(m)}}`;
    this.begun = true;
    this.res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    this.res.end(body);
  }
}

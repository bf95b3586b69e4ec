import { Route } from '@ollama-ring/protocol';

/** A chat message, as Ollama's `/api/chat` takes it. */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  images?: string[];
  [key: string]: unknown;
}

/** Routing hints a caller can give besides the body (the gateway maps headers to these). */
export interface RequestHints {
  /** Higher is served first. Default 0. */
  priority?: number;
  /** Nodes must carry every one of these tags (e.g. `gpu`). */
  tags?: string[];
  /** A strategy for this request only (name or alias). */
  strategy?: string;
  /**
   * Served instead when the requested model cannot be: no node has it, none that has it is routable
   * (down, breaker open, disabled, draining), or none can start it before its queue deadline or
   * latency budget (see the balancer README, "Hints and strategies").
   */
  fallbackModel?: string;
  /**
   * The caller's latency budget in ms, from arrival until the answer begins (a stream's first byte,
   * a non-streamed answer whole): every strategy avoids the nodes predicted to miss it while another
   * can meet it.
   */
  latencyBudgetMs?: number;
  /** How demanding the task is (`low`, `high`, or any word the config's `hybrid` rules match on). */
  complexity?: string;
}

/**
 * One request for the pipeline: the route and the JSON body exactly as a client would send it to
 * Ollama, plus routing hints. Build it with the factories.
 *
 * @example
 * InferenceRequest.ofPrompt('llama3.2', 'Why is the sky blue?');
 * InferenceRequest.ofChat('llama3.2', [{ role: 'user', content: 'Hi' }], { options: { num_ctx: 8192 } });
 * InferenceRequest.ofEmbed('nomic-embed-text', ['a', 'b']);
 */
export class InferenceRequest {
  constructor(
    readonly route: Route,
    readonly body: Record<string, unknown>,
    readonly hints: RequestHints = {},
  ) {}

  static ofPrompt(model: string, prompt: string, extra: Record<string, unknown> = {}, hints?: RequestHints): InferenceRequest {
    return new InferenceRequest(Route.Generate, { model, prompt, ...extra }, hints);
  }

  static ofChat(model: string, messages: ChatMessage[], extra: Record<string, unknown> = {}, hints?: RequestHints): InferenceRequest {
    return new InferenceRequest(Route.Chat, { model, messages, ...extra }, hints);
  }

  static ofEmbed(model: string, input: string | string[], extra: Record<string, unknown> = {}, hints?: RequestHints): InferenceRequest {
    return new InferenceRequest(Route.Embed, { model, input, ...extra }, hints);
  }

  /** The same request with other hints. */
  withHints(hints: RequestHints): InferenceRequest {
    return new InferenceRequest(this.route, this.body, { ...this.hints, ...hints });
  }

  get model(): string {
    return String(this.body.model ?? '');
  }
}

/**
 * The result of a non-streaming request: Ollama's JSON response, and where it was served.
 */
export interface InferenceResponse {
  /** Ollama's response object (`response`, `message`, `embeddings`, timings…). */
  body: Record<string, unknown>;
  /** Text of a generate or chat response (`response` or `message.content`); '' for embeddings. */
  text: string;
  nodeId: string;
  queueMs: number;
  retries: number;
  /** The model asked for, when the request was served by its fallback model (`body.model` names the fallback). */
  fallbackFrom?: string;
}

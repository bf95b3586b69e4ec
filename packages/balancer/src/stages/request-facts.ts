/** What validation learns about a request, for routing. Travels as JSON in the byte arena. */
export interface RequestFacts {
  /** The model as the client named it. */
  rawModel: string;
  /** Normalised model name (`name:tag`, lower case). */
  model: string;
  /** Reload-forcing options (num_ctx, num_batch, num_gpu, use_mmap) as a stable string; '' for none. */
  optionsSignature: string;
  stream: boolean;
  /** Prompt size estimate in tokens (about four characters a token). */
  promptTokens: number;
  /**
   * The output cap in tokens, when the body sets a positive one: `options.num_predict` (Ollama),
   * `max_tokens` or `max_completion_tokens` (OpenAI). Absent for no cap (-1, -2: "until the context
   * is full"). It feeds the estimate of when a busy slot frees.
   */
  outputTokens?: number;
  /** Tags from the body (`instance_tags`, `require_gpu`). */
  tags: string[];
  /** Hints from the body; explicit hints (headers, library) take precedence. */
  priority?: number;
  strategy?: string;
  fallbackModel?: string;
  latencyBudgetMs?: number;
  /** The body's `complexity` hint, trimmed and in lower case (see `complexityOf`). */
  complexity?: string;
  /**
   * The request offers tools. Ollama then holds back the output while a tool call is being
   * generated (nothing is sent until the call is whole), so no learned deadline fits its gaps.
   */
  tools?: boolean;
}

/** Validation's verdict on a bad request: an HTTP status and a message in Ollama's words. */
export interface RequestRejection {
  status: number;
  message: string;
}

/** Limits validation enforces (from `validation` in the config). */
export interface ValidationLimits {
  maxPromptLength: number;
  /** Normalised model names a client may use; empty = any. */
  allowedModels: readonly string[];
}

import { Route } from '@ollama-ring/protocol';

/** The routes whose non-streamed answers the gateway can assemble from a stream. */
export type AssembledRoute = Route.Generate | Route.Chat;

export function canAssemble(route: Route): route is AssembledRoute {
  return route === Route.Generate || route === Route.Chat;
}

/** What a stream asked for on behalf of a non-streaming client came to. */
export type Assembled = { ok: true; body: string; last: Record<string, unknown> } | { ok: false; error: string };

type Json = Record<string, unknown>;

/**
 * Ollama's non-streamed answer, made from the NDJSON stream the gateway asked the node for in its
 * place (so that a node that hangs or stalls is noticed by the stream's deadlines, and can be left
 * before any byte reached the client). Ollama builds its own non-streamed answer the same way: the
 * last chunk of its stream, with the text of every chunk joined: `response` and `thinking` for
 * generate; `message.content`, `message.thinking` and the `message.tool_calls` of every chunk for
 * chat; and the `logprobs` of every chunk, for both. Fields keep the node's order; `thinking` and `tool_calls` are left out when empty, as Ollama
 * leaves them out. An `{"error": …}` line ends it as an error, as Ollama's own answer would be.
 *
 * @example
 * assemble(Route.Generate, [Buffer.from('{"response":"Hel","done":false}\n{"response":"lo","done":true}\n')]);
 * // { ok: true, body: '{"response":"Hello","done":true}', … }
 */
export function assemble(route: AssembledRoute, parts: readonly Buffer[]): Assembled {
  const text = (parts.length === 1 ? parts[0] : Buffer.concat(parts)).toString('utf8');
  let last: Json | undefined;
  let content = '';
  let thinking = '';
  const toolCalls: unknown[] = [];
  const logprobs: unknown[] = [];
  const textKey = route === Route.Chat ? 'content' : 'response';
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let o: Json;
    try {
      o = JSON.parse(line) as Json;
    } catch {
      return { ok: false, error: `the node sent a line that is not JSON: ${line.slice(0, 200)}` };
    }
    if (typeof o.error === 'string') return { ok: false, error: o.error };
    const part = route === Route.Chat ? ((o.message ?? {}) as Json) : o;
    if (typeof part[textKey] === 'string') content += part[textKey];
    if (typeof part.thinking === 'string') thinking += part.thinking;
    if (Array.isArray(part.tool_calls)) toolCalls.push(...(part.tool_calls as unknown[]));
    if (Array.isArray(o.logprobs)) logprobs.push(...(o.logprobs as unknown[]));
    last = o;
  }
  if (!last) return { ok: false, error: 'the node ended its answer without sending anything' };
  if (last.done !== true) return { ok: false, error: 'the node ended its answer before it was done' };
  const body =
    route === Route.Chat
      ? { ...last, message: joined((last.message ?? { role: 'assistant' }) as Json, textKey, content, thinking, toolCalls) }
      : joined(last, textKey, content, thinking, []);
  // Ollama gathers every chunk's log probabilities into its answer (left out when there are none).
  if (logprobs.length > 0) body.logprobs = logprobs;
  else delete body.logprobs;
  return { ok: true, body: JSON.stringify(body), last };
}

/** `obj` in its own key order, with `textKey` set to `text`, `thinking` right after it and `tool_calls` where they were (or last). */
function joined(obj: Json, textKey: string, text: string, thinking: string, toolCalls: unknown[]): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === textKey) {
      out[k] = text;
      if (thinking !== '') out.thinking = thinking;
    } else if (k === 'thinking') {
      if (thinking !== '') out.thinking = thinking;
    } else if (k === 'tool_calls') {
      if (toolCalls.length > 0) out.tool_calls = toolCalls;
    } else out[k] = v;
  }
  if (!(textKey in out)) out[textKey] = text;
  if (thinking !== '' && !('thinking' in out)) out.thinking = thinking;
  if (toolCalls.length > 0 && !('tool_calls' in out)) out.tool_calls = toolCalls;
  return out;
}

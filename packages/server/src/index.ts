/**
 * @ollama-ring/server: the ollama-ring gateway — Ollama- and OpenAI-compatible HTTP front, admin
 * API, metrics — and the `ollama-ring` CLI.
 */
export { Gateway, type GatewayOptions } from './gateway';
export type { GatewayContext, RequestLogEntry } from './gateway-context';
export { Router, type Handler, type HttpContext, type RouteMatch } from './http/router';
export { sendError, sendThrown, type Flavor } from './http/errors';
export { HttpSink, NODE_HEADER, QUEUE_HEADER, RETRIES_HEADER } from './http/http-sink';
export { clientIdentity, isAdmin, presentedKey, isLoopback } from './http/auth';
export { readBody, BodyError } from './http/body';
export { hintsFromHeaders } from './http/hints';

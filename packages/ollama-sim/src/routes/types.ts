/** The shape every route handler shares. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeContext } from '../context';

export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  /** The path without the query string. */
  path: string;
  /** Path parameters (`/v1/models/:model`). */
  params: Record<string, string>;
  /** Aborts when the client goes away before the response is complete. */
  signal: AbortSignal;
  /** Monotonic ms when the request arrived. */
  t0: number;
  /** Adds `key=value` to the verbose log line of this request. */
  note(key: string, value: string | number): void;
}

export type RouteHandler = (ctx: NodeContext, r: RouteRequest) => Promise<void> | void;

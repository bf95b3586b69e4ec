import type { IncomingMessage } from 'node:http';
import type { BalancerConfig, Pipeline, PipelineFactory } from '@ollama-ring/balancer';
import type { Route } from '@ollama-ring/protocol';
import type { Logger } from 'pino';
import type { ClientTimeouts } from './http/request-deadlines';

/** One line of the request log. */
export interface RequestLogEntry {
  req: IncomingMessage;
  status: number;
  route?: Route | string;
  nodeId?: string;
  queueMs?: number;
  ttftMs?: number;
  latencyMs?: number;
  tokens?: number;
  retries?: number;
  outcome: string;
}

/** What the route modules need from the gateway. */
export interface GatewayContext {
  readonly factory: PipelineFactory;
  readonly logger: Logger;
  /** The gateway's timeouts for its clients, fixed when it was made (`server.*`). */
  readonly clientTimeouts: ClientTimeouts;
  config(): BalancerConfig;
  pipeline(): Pipeline;
  /** Re-reads the config file (if any) and applies it; resolves with a summary. */
  reload(): Promise<{ nodes: number; strategy: string }>;
  logRequest(entry: RequestLogEntry): void;
}

import type { Schema } from './schema-kit';

/**
 * Who may call a route: `open` needs nothing (probes, scrapers, the docs); `client` needs an API key
 * when `auth.apiKeys` is configured (as inference does); `admin` needs `auth.adminToken`, or, with
 * none configured, a loopback client.
 */
export type Access = 'open' | 'client' | 'admin';

export type Tag = 'Ollama inference' | 'OpenAI' | 'Ollama models' | 'Batch' | 'Workflows' | 'Status' | 'Admin' | 'Docs';

/** One success answer: its description, body schema and content types (JSON unless said). */
export interface Answer {
  description: string;
  schema?: Schema;
  /** Content types of the body; a schema applies to each. Default `application/json`. */
  types?: readonly string[];
}

/** What the API document says of one method of one route. */
export interface OperationDoc {
  summary: string;
  description?: string;
  tag: Tag;
  access: Access;
  /** The shape of its error bodies: Ollama's (default), OpenAI's, or plain text. */
  errors?: 'ollama' | 'openai' | 'text';
  /** Goes through the pipeline: routing-hint headers in, `X-Ollama-Ring-*` headers out, the pipeline's refusals. */
  inference?: boolean;
  /** Fans out to nodes: `X-Ollama-Ring-Nodes` picks them. */
  fanOut?: boolean;
  /** A body (required): JSON, unless `bodyType` says otherwise. */
  body?: Schema;
  /** The body's content type, when not JSON. */
  bodyType?: string;
  /** Success answers by status. */
  ok: Readonly<Record<string, Answer>>;
  /** Errors beyond those its access, body and kind imply, by status. */
  failures?: Readonly<Record<string, string>>;
}

export type Method = 'get' | 'head' | 'post' | 'delete';

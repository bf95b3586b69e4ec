/**
 * What a failed call to a node means, from the error undici (or Node's socket layer) threw: the
 * node refused or cannot be reached, a timeout (and in which phase), an abort of ours, or another
 * network failure. Only `aborted` is not worth a retry on another node; whether a retry is still
 * possible (nothing sent to the client yet) is the caller's business.
 */

export type NetworkErrorKind = 'refused' | 'timeout' | 'aborted' | 'network';

/** Which undici timeout fired: connecting, waiting for the headers, or between two body chunks. */
export type TimeoutPhase = 'connect' | 'first-byte' | 'idle';

export interface NetworkErrorClass {
  kind: NetworkErrorKind;
  /** The error code found (`ECONNREFUSED`, `UND_ERR_HEADERS_TIMEOUT`…), or '' for none. */
  code: string;
  /** For `timeout`: which one. */
  phase?: TimeoutPhase;
  /** Another node may do better: true for all but `aborted`. */
  retryable: boolean;
}

/** Codes that say the node cannot be reached at all: mark it down rather than wait for it. */
const REFUSED: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND']);

const TIMEOUTS: ReadonlyMap<string, TimeoutPhase> = new Map([
  ['UND_ERR_CONNECT_TIMEOUT', 'connect'],
  ['ETIMEDOUT', 'connect'],
  ['UND_ERR_HEADERS_TIMEOUT', 'first-byte'],
  ['UND_ERR_BODY_TIMEOUT', 'idle'],
]);

const ABORTS: ReadonlySet<string> = new Set(['UND_ERR_ABORTED', 'ABORT_ERR']);

/**
 * The code of an error: its own, else its cause's, else that of the first member of an
 * AggregateError that has one (Node's happy-eyeballs connect to `localhost` tries ::1 and
 * 127.0.0.1 and fails with an AggregateError whose own code may be missing).
 */
export function networkErrorCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const r = e as { code?: unknown; errors?: unknown; cause?: unknown };
  if (typeof r.code === 'string' && r.code) return r.code;
  if (Array.isArray(r.errors)) {
    for (const inner of r.errors) {
      const c = networkErrorCode(inner);
      if (c) return c;
    }
  }
  return networkErrorCode(r.cause);
}

/**
 * Classifies anything a call to a node can throw.
 *
 * @example classifyNetworkError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })).kind; // 'refused'
 */
export function classifyNetworkError(e: unknown): NetworkErrorClass {
  const code = networkErrorCode(e) ?? '';
  if (REFUSED.has(code)) return { kind: 'refused', code, retryable: true };
  const phase = TIMEOUTS.get(code);
  if (phase) return { kind: 'timeout', code, phase, retryable: true };
  if (ABORTS.has(code)) return { kind: 'aborted', code, retryable: false };
  return { kind: 'network', code, retryable: true };
}

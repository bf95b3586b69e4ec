import { errorText, isModelNotFound } from '@ollama-ring/protocol';
import { BalancerError, RequestAbortedError, UpstreamError, UpstreamTimeoutError } from '../errors';
import type { Outcome } from '../scheduler/observer';
import type { DispatchOutcome } from './dispatch-types';

/** What one finished upstream exchange means for the node, the request and the client. */
export interface CompletionVerdict {
  /** Count it against the node's breaker and success rate. */
  nodeFailure: boolean;
  /** The node refused the connection: mark it down at once. */
  nodeDown: boolean;
  /** Nothing reached the client yet and another node may do better: try again elsewhere. */
  retryable: boolean;
  /** The node does not have the model (Ollama's model-not-found 404): forget it there, and try a node that does. */
  modelMissing?: boolean;
  /**
   * Any other 404, typically a route the node lacks (gin's `404 page not found`): nothing about the
   * model or the node's health; worth a try on a node that has not answered this request yet.
   */
  routeMissing?: boolean;
  /** The error to end the request with, when it is not a success. */
  error?: BalancerError;
  outcome: Outcome;
}

/**
 * Classifies a dispatch outcome. 503, 429, other 5xx, timeouts and connection errors count against
 * the node and may be retried (before the first byte only); 4xx client errors such as an unknown
 * model are passed to the client unchanged and say nothing bad about the node. Only Ollama's own
 * model-not-found (`isModelNotFound`) says the node lacks the model; another 404 says it lacks
 * what was asked of it (a route), which another node may have.
 */
export function judge(nodeId: string, o: DispatchOutcome): CompletionVerdict {
  switch (o.kind) {
    case 'ok':
      if (o.inBandError) {
        // The runner failed mid-stream; the error line has already gone to the client as bytes,
        // so the error is marked delivered: the sink ends the stream without a second copy.
        return {
          nodeFailure: true,
          nodeDown: false,
          retryable: false,
          outcome: 'upstream_error',
          error: new UpstreamError(nodeId, 500, o.inBandError, { inBand: true }),
        };
      }
      if (o.unterminated) {
        // An OpenAI stream cut short without a word (Ollama's own way of failing one mid-way): a
        // node failure, and the client is owed an error event, which the sink writes.
        return {
          nodeFailure: true,
          nodeDown: false,
          retryable: false,
          outcome: 'upstream_error',
          error: new UpstreamError(nodeId, 502, `node ${nodeId} ended the stream before it was done (no [DONE]): the generation failed there`),
        };
      }
      return { nodeFailure: false, nodeDown: false, retryable: false, outcome: 'success' };
    case 'http-error': {
      if (o.status === 404) {
        const modelMissing = isModelNotFound(o.status, o.body);
        return {
          nodeFailure: false,
          nodeDown: false,
          retryable: true,
          ...(modelMissing ? { modelMissing } : { routeMissing: true }),
          outcome: 'client_error',
          error: new UpstreamError(nodeId, o.status, upstreamMessage(o.body, o.status), { body: o.body }),
        };
      }
      const nodeFault = o.status === 429 || o.status >= 500;
      return {
        nodeFailure: nodeFault,
        nodeDown: false,
        retryable: nodeFault,
        outcome: nodeFault ? 'upstream_error' : 'client_error',
        error: new UpstreamError(nodeId, o.status, upstreamMessage(o.body, o.status), { body: o.body }),
      };
    }
    case 'failed':
      return {
        nodeFailure: true,
        nodeDown: o.refused,
        retryable: !o.started,
        outcome: o.error instanceof UpstreamTimeoutError ? 'timeout' : 'upstream_error',
        error: o.error,
      };
    case 'aborted':
      return { nodeFailure: false, nodeDown: false, retryable: false, outcome: 'aborted', error: new RequestAbortedError() };
  }
}

/** The `error` text of an Ollama or OpenAI error body, or the body itself (shortened), or the status. */
export function upstreamMessage(body: string, status: number): string {
  return errorText(body) || `upstream answered ${status}`;
}

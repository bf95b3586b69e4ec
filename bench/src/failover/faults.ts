import type { SimNode } from '@ollama-ring/ollama-sim';

/** One fault `bench:failover` injects into one node of the pool while load runs. */
export interface FaultCase {
  name: string;
  /** What the node does, in a few words (a table column). */
  what: string;
  inject(node: SimNode): void;
  clear(node: SimNode): void;
  /**
   * `deadline`: found by a missed first-byte deadline (out of rotation within 1 s of it, affected
   * requests at most 1 s late); `stall`: found by a stall deadline (out within 1 s of it; requests
   * pay the stall deadline, `failover.minStallMs` at least); `error`: answers with
   * an error at once (retried elsewhere; out when its breaker's threshold of failures is reached or
   * at once when refused); `slow`: to be used less, not taken out.
   */
  kind: 'deadline' | 'stall' | 'error' | 'slow';
}

export const FAULTS: readonly FaultCase[] = [
  {
    name: 'refused',
    what: 'stops listening (connections refused)',
    inject: (n) => n.refuse(),
    clear: (n) => void n.accept(),
    kind: 'error',
  },
  {
    name: 'reset',
    what: 'resets every connection before answering',
    inject: (n) => n.setFaults({ closeMidStream: { afterTokens: 0 } }),
    clear: (n) => n.setFaults({ closeMidStream: null }),
    kind: 'error',
  },
  {
    name: 'hang-before-headers',
    what: 'accepts connections, never answers (health checks too)',
    inject: (n) => n.setFaults({ hang: {} }),
    clear: (n) => n.setFaults({ hang: null }),
    kind: 'deadline',
  },
  {
    name: 'hang-before-first-token',
    what: 'inference never answers; /api/version still does',
    inject: (n) => n.setFaults({ hang: { paths: ['/api/generate', '/api/chat'] } }),
    clear: (n) => n.setFaults({ hang: null }),
    kind: 'deadline',
  },
  {
    name: 'stall-mid-stream',
    what: 'generations stop after 5 tokens, sockets stay open',
    inject: (n) => n.setFaults({ hang: { afterTokens: 5 } }),
    clear: (n) => n.setFaults({ hang: null }),
    kind: 'stall',
  },
  {
    name: '503-storm',
    what: 'answers every request 503 (server busy)',
    inject: (n) => n.setFaults({ failNext: { count: 1_000_000, status: 503 } }),
    clear: (n) => n.setFaults({ failNext: null }),
    kind: 'error',
  },
  {
    name: 'slow-5x',
    what: 'every duration 5× longer than its peers',
    inject: (n) => n.setFaults({ slowdown: 5 }),
    clear: (n) => n.setFaults({ slowdown: null }),
    kind: 'slow',
  },
];

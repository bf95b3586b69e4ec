/** Many simulated nodes in one process: start them from one config, close them together. */
import { resolveNode, validateSimConfig } from './config';
import type { SimPoolConfig } from './config-types';
import { SimNode } from './node';
import { SimUnknownNodeError } from './errors';
import type { SimNodeState } from './routes/control';
import { sharedTicker, type TickScheduler } from './ticker';

/** A running pool. */
export interface SimPool {
  /** The nodes, in config order; each has `id`, `url`, `port` and the control methods. */
  readonly nodes: readonly SimNode[];
  /** The node with this id; throws when there is none. */
  node(id: string): SimNode;
  /** Every node's state. */
  state(): SimNodeState[];
  /** Stops every node and drops every connection. */
  close(): Promise<void>;
}

export interface StartSimPoolOptions {
  /** Receives the verbose request log (default console.log). */
  log?: (line: string) => void;
  /** The clock that paces tokens; default the process-wide shared ticker. */
  ticker?: TickScheduler;
}

/**
 * Validates `config`, then starts every node (port 0 picks a free port). If any node fails to
 * start, the ones already started are closed before the error is rethrown.
 */
export async function startSimPool(config: SimPoolConfig, options: StartSimPoolOptions = {}): Promise<SimPool> {
  const valid = validateSimConfig(config);
  const startMs = Date.now();
  const nodes: SimNode[] = [];
  const peers = (): readonly SimNode[] => nodes;
  for (const n of valid.nodes) {
    nodes.push(new SimNode(resolveNode(valid, n, startMs), { ticker: options.ticker ?? sharedTicker, log: options.log, peers }));
  }
  try {
    for (const node of nodes) await node.start();
  } catch (e) {
    await Promise.all(nodes.map((n) => n.close()));
    throw e;
  }
  let closing: Promise<void> | undefined;
  return {
    nodes,
    node(id: string): SimNode {
      const n = nodes.find((x) => x.id === id);
      if (!n) throw new SimUnknownNodeError(id);
      return n;
    },
    state: () => nodes.map((n) => n.state()),
    close(): Promise<void> {
      closing ??= Promise.all(nodes.map((n) => n.close())).then(() => undefined);
      return closing;
    },
  };
}

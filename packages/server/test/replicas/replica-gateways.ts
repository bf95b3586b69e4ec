import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SimModelConfig, type SimNodeConfig, type SimPool, startSimPool } from '@ollama-ring/ollama-sim';
import { type GatewayProcess, startGatewayProcess, stopGatewayProcess } from '../../../../bench/src/replicas/gateway-process';

/** An emulated pool and several gateway processes in front of it, sharing its state through Redis. */
export interface ReplicaGateways {
  sim: SimPool;
  gateways: GatewayProcess[];
  /** The config file every gateway was started with (for one more, with `startGatewayProcess`). */
  configFile: string;
  /** Every node's highest count of inference requests in flight at once, as the emulator saw them. */
  peaks(): Record<string, number>;
  close(): Promise<void>;
}

/**
 * Starts an emulated pool and `count` gateway processes (the built CLI, `serve --config`) on the
 * Redis at `redisUrl`, each on a free port; resolves once all are listening.
 */
export async function startReplicaGateways(
  count: number,
  nodes: SimNodeConfig[],
  redisUrl: string,
  keyPrefix: string,
  extra: Record<string, unknown> = {},
  models: SimModelConfig[] = [{ name: 'llama3.2', loadMs: 2000 }],
): Promise<ReplicaGateways> {
  const sim = await startSimPool({ timeScale: 0.02, models, nodes });
  const dir = mkdtempSync(join(tmpdir(), 'ring-replicas-'));
  const file = join(dir, 'config.yaml');
  // Timeouts for a loaded test machine: a gateway process busy for a few hundred ms would otherwise
  // count Redis as slow and fall back to its local share (the fallback has a test of its own).
  const config = {
    nodes: sim.nodes.map((n, i) => ({ id: n.id, url: n.url, maxConcurrentRequests: nodes[i].numParallel ?? 1 })),
    retry: { maxRetries: 3, initialBackoffMs: 5, maxBackoffMs: 50, backoffMultiplier: 2 },
    state: { backend: 'redis', redis: { url: redisUrl, keyPrefix, leaseTtlMs: 3000, commandTimeoutMs: 2000, connectTimeoutMs: 2000 } },
    logging: { level: 'info' },
    ...extra,
  };
  writeFileSync(file, JSON.stringify(config));
  const gateways = await Promise.all(Array.from({ length: count }, () => startGatewayProcess(file)));
  return {
    sim,
    gateways,
    configFile: file,
    peaks: () => Object.fromEntries(sim.state().map((s) => [s.id, s.peakInferenceInFlight])),
    async close() {
      await Promise.all(gateways.map(stopGatewayProcess));
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A non-streamed generate through a gateway; the status and body. */
export async function generate(url: string, prompt: string, numPredict = 24, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/api/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'llama3.2', prompt, stream: false, options: { num_predict: numPredict } }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A gateway's JSON route. */
export async function getJson(url: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, { headers });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** The value of one metric family (summed over its series) in a gateway's /metrics text. */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

// What every fuzz test of the HTTP front shares: the run settings (a fixed seed in CI, more runs on
// demand), the gateway under test, and the checks of the properties every answer must keep.
import type { Parameters } from 'fast-check';
import { allRoutes } from '../../src';
import { startGateway, type GatewayHarness } from '../gateway-harness';
import { POOL_TAGS } from './arbitraries';
import type { RawExchange, RawResponse } from './raw-http';

/**
 * The seed of every fuzz run. Fixed, so that CI runs the same inputs each time and a red run can be
 * replayed; `FUZZ_SEED=<n>` explores other inputs (a failure prints its seed and path to replay).
 */
export const FUZZ_SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : 20261205;

/** Runs of a property: `ciRuns` in the normal suite, `FUZZ_RUNS` when set (e.g. 5000 for a long run). */
export function fuzzRuns(ciRuns: number): number {
  const n = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(n) && n > 0 ? n : ciRuns;
}

/** fast-check parameters for a property with `ciRuns` runs in CI. */
export function fuzzParams<T>(ciRuns: number): Parameters<T> {
  return { seed: FUZZ_SEED, numRuns: fuzzRuns(ciRuns) };
}

/** A jest timeout that grows with the number of runs (`msPerRun` generous for a loaded 2-core VM). */
export function fuzzTimeout(ciRuns: number, msPerRun: number): number {
  return 60_000 + fuzzRuns(ciRuns) * msPerRun;
}

/** The admin token of the fuzzed gateway: admin routes without it are 401, with it they validate. */
export const ADMIN_TOKEN = 'fuzz-admin-token';

/**
 * The bound on any one exchange: past it, the gateway is taken to hang. Above the fuzzed gateway's
 * own worst case (its 8 s request timeout, then up to three retries of at least 1 s each).
 */
export const EXCHANGE_BOUND_MS = 15_000;

/** Request-level limits of the fuzzed gateway, small so that oversized inputs are cheap to make. */
export const MAX_BODY_BYTES = 256 * 1024;
export const MAX_PROMPT_LENGTH = 20_000;

/**
 * A gateway with every route, over one emulated node holding a completion and an embedding model.
 * No health check or discovery runs after start-up, so every request a node counts was sent on a
 * client's behalf; short upstream and request timeouts bound every exchange.
 */
export function startFuzzGateway(): Promise<GatewayHarness> {
  return startGateway(
    [{ id: 'a', models: ['llama3.2', 'nomic-embed-text'], numParallel: 2 }],
    (c) => {
      c.nodes[0].tags = [...POOL_TAGS];
      c.validation.maxBodyBytes = MAX_BODY_BYTES;
      c.validation.maxPromptLength = MAX_PROMPT_LENGTH;
      c.auth.adminToken = ADMIN_TOKEN;
      c.healthCheck.intervalMs = 3_600_000;
      c.healthCheck.discoveryIntervalMs = 3_600_000;
      c.timeouts = { ...c.timeouts, requestTimeoutMs: 8_000, firstByteTimeoutMs: 5_000, idleTimeoutMs: 5_000 };
    },
    { routes: allRoutes, headersTimeoutMs: 3_000, requestTimeoutMs: 3_000 },
  );
}

/** Requests the pool's nodes have received so far (probes included; none run during a fuzz). */
export function nodeRequests(g: GatewayHarness): number {
  return g.sim.nodes.reduce((n, node) => n + node.state().requests, 0);
}

/** Waits until nothing is in flight: the balancer's live count, every node's slots, every emulated node. */
export async function expectSettled(g: GatewayHarness, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  const busy = (): string | undefined => {
    const live = g.factory.getPoolView().live;
    if (live !== 0) return `${live} requests live in the balancer`;
    const node = g.factory
      .getNodeRegistry()
      .getAllNodes()
      .find((n) => n.inFlight !== 0);
    if (node) return `node ${node.id} has ${node.inFlight} in flight`;
    const sim = g.sim.nodes.find((n) => n.state().inferenceInFlight !== 0);
    if (sim) return `emulated node ${sim.id} still serves ${sim.state().inferenceInFlight} inference requests`;
    return undefined;
  };
  for (;;) {
    const why = busy();
    if (why === undefined) return;
    if (Date.now() > end) throw new Error(`not settled after ${ms} ms: ${why}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export type Flavor = 'ollama' | 'openai';

/**
 * The error shape a caller of `target` expects: OpenAI's for `/v1/…`, Ollama's for the rest. The
 * target is normalised as the gateway's router sees it (dot segments resolved, empty segments
 * ignored), so `//v1/models/x` is an OpenAI caller too.
 */
export function callerFlavor(target: string): Flavor {
  let path: string;
  try {
    path = new URL(target, 'http://gateway.invalid').pathname;
  } catch {
    return 'ollama';
  }
  return path.split('/').find((s) => s !== '') === 'v1' ? 'openai' : 'ollama';
}

/** Bodies Node's own HTTP parser answers with (no route was reached): a status and nothing else. */
const PARSER_STATUSES = new Set([400, 408, 413, 417, 431]);

/**
 * Why `r` breaks the error contract, or undefined: no 5xx; a 4xx is the caller's JSON error shape,
 * Ollama's plain `404 page not found` / `405 method not allowed`, or the bare status Node's HTTP
 * parser sends for a request it could not parse (empty body, connection closed).
 */
export function errorShapeProblem(r: RawResponse, flavor: Flavor, head: boolean): string | undefined {
  const body = r.body.toString('utf8');
  const what = `${r.status} ${JSON.stringify(body.slice(0, 300))}`;
  if (r.status >= 500) return `a 5xx: ${what}`;
  if (r.status < 400 || head) return undefined;
  const type = r.headers['content-type'] ?? '';
  if (type.startsWith('text/plain')) {
    if ((r.status === 404 && body === '404 page not found') || (r.status === 405 && body === '405 method not allowed')) return undefined;
    return `a plain-text 4xx that is not Ollama's 404/405: ${what}`;
  }
  if (type === '' && body === '' && PARSER_STATUSES.has(r.status)) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch {
    return `a 4xx whose body is not JSON: ${what}`;
  }
  return flavor === 'openai' ? openAIErrorProblem(v, what) : ollamaErrorProblem(v, what);
}

function ollamaErrorProblem(v: unknown, what: string): string | undefined {
  const o = v as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null || typeof o.error !== 'string') return `not Ollama's {"error":string}: ${what}`;
  return undefined;
}

function openAIErrorProblem(v: unknown, what: string): string | undefined {
  const e = (v as { error?: Record<string, unknown> } | null)?.error;
  if (typeof e !== 'object' || e === null || typeof e.message !== 'string' || typeof e.type !== 'string' || !('param' in e) || !('code' in e)) {
    return `not OpenAI's {"error":{message,type,param,code}}: ${what}`;
  }
  return undefined;
}

/**
 * Why an exchange breaks the front's contract, or undefined: it ended within the bound, and every
 * response keeps the error contract (`flavor` per response, for a pipeline). `allowNoResponse`: a close without any answer is acceptable
 * (a CONNECT, a half-closed or truncated request).
 */
export function exchangeProblem(x: RawExchange, flavor: Flavor | readonly Flavor[], head: readonly boolean[], allowNoResponse: boolean): string | undefined {
  if (x.timedOut) return `no answer and no close within ${EXCHANGE_BOUND_MS} ms (${x.responses.length} responses so far)`;
  if (x.responses.length === 0 && !allowNoResponse) return `the connection closed without a response (${x.rest.length} stray bytes)`;
  for (let i = 0; i < x.responses.length; i++) {
    const p = errorShapeProblem(x.responses[i], typeof flavor === 'string' ? flavor : (flavor[i] ?? 'ollama'), head[i] === true);
    if (p) return `response ${i + 1}: ${p}`;
  }
  return undefined;
}

/** True when the gateway refused the request itself: a 4xx answered without asking a node. */
export function refusedByGateway(r: RawResponse): boolean {
  return r.status >= 400 && r.status < 500 && r.headers['x-ollama-ring-node'] === undefined;
}

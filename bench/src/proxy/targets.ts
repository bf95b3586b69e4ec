/**
 * The four ways to reach the sim node: directly, through ollama-ring with dispatch inline or on
 * worker threads, and through nginx; and two references: a bare Node proxy, and ollama-ring as
 * the previous build (another commit, see baseline.ts) had it. A target that cannot run here is
 * skipped with the reason.
 */
import { request } from 'undici';
import type { BaselineBuild } from './baseline';
import { startChild, type Child } from './child';
import { NGINX_INSTALL_HINT, findNginx, startNginx } from './nginx';
import type { GatewayChildOptions, Placement } from './protocol';
import { REQUEST_PATH, requestBody, streamBody } from './settings';

export const TARGET_NAMES = ['direct', 'ollama-ring-inline', 'ollama-ring-workers', 'nginx'] as const;
/**
 * Measured and shown, but outside the `targets` of the JSON and the goals: what any Node proxy
 * costs (passthrough-child.ts), the previous build's gateway, dispatch inline (baseline.ts), and this
 * build's with its completion/metrics stage on a worker thread instead of inline (the other placement).
 */
export const REFERENCE_NAMES = ['node-passthrough', 'ollama-ring-previous', 'ollama-ring-metrics-worker'] as const;
export type TargetName = (typeof TARGET_NAMES)[number] | (typeof REFERENCE_NAMES)[number];

const WORKERS_UNAVAILABLE = "dispatchPlacement 'workers' not available";

export interface Target {
  name: TargetName;
  url: string;
  /** The proxy's processes (none for direct), for CPU accounting. */
  pids(): number[];
  /** ollama-ring's process, which reports its event-loop delay. */
  child?: Child;
  stop(): Promise<void>;
}

export type Started = { ok: true; target: Target } | { ok: false; name: TargetName; skipped: string; reason: string };

export interface TargetOptions {
  sim: Child;
  /** Node slots, global in-flight cap, nginx keepalive: at least the bench's concurrency. */
  maxInFlight: number;
  /** --nginx: a binary to use instead of searching PATH. */
  nginxBin?: string;
  nginxWorkers: string;
  /** --cpu-prof DIR: each proxy written in Node writes `<target>.cpuprofile` there when it stops. */
  profileDir?: string;
  /** `--set`: config keys set on this build's gateways (not the previous build's). */
  set?: Record<string, unknown>;
  /** The previous build, built (or why not); absent: this target is skipped. */
  baseline?: { ok: true; build: BaselineBuild } | { ok: false; skipped: string; reason: string };
}

/** One request and one stream must come back whole before a target is measured. */
async function probe(url: string): Promise<void> {
  for (const body of [requestBody, streamBody]) {
    const res = await request(`${url}${REQUEST_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const text = await res.body.text();
    if (res.statusCode !== 200 || !text.includes('"done":true')) throw new Error(`probe got ${res.statusCode}: ${text.slice(0, 300)}`);
  }
}

async function startGateway(
  name: TargetName,
  placement: Placement,
  o: TargetOptions,
  script = 'gateway-child',
  root?: string,
  metricsPlacement?: GatewayChildOptions['metricsPlacement'],
): Promise<Target> {
  const opts: GatewayChildOptions = { simUrl: o.sim.url, placement, maxInFlight: o.maxInFlight, root, metricsPlacement, set: root === undefined ? o.set : undefined };
  const child = await startChild(script, opts, undefined, o.profileDir ? { dir: o.profileDir, name: name } : undefined);
  try {
    await probe(child.url);
  } catch (e) {
    await child.stop();
    throw e;
  }
  return { name, url: child.url, pids: () => [child.pid], child, stop: () => child.stop() };
}

export async function startTarget(name: TargetName, o: TargetOptions): Promise<Started> {
  switch (name) {
    case 'direct':
      return { ok: true, target: { name, url: o.sim.url, pids: () => [], stop: async () => undefined } };
    case 'ollama-ring-inline':
      // The default placement must work: a failure here is a real failure of the bench.
      return { ok: true, target: await startGateway(name, 'inline', o) };
    case 'ollama-ring-workers':
      // Built by another change; until the balancer supports it, the bench reports it skipped.
      try {
        return { ok: true, target: await startGateway(name, 'workers', o) };
      } catch (e) {
        return { ok: false, name, skipped: WORKERS_UNAVAILABLE, reason: (e as Error).message };
      }
    case 'ollama-ring-metrics-worker':
      return { ok: true, target: await startGateway(name, 'inline', o, 'gateway-child', undefined, 'worker') };
    case 'node-passthrough':
      return { ok: true, target: await startGateway(name, 'inline', o, 'passthrough-child') };
    case 'ollama-ring-previous': {
      const b = o.baseline;
      if (!b) return { ok: false, name, skipped: 'no previous build (--baseline none)', reason: 'run without --baseline none to measure it' };
      if (!b.ok) return { ok: false, name, skipped: b.skipped, reason: b.reason };
      // Inline, as ollama-ring-inline: the two differ only in the code under test. An older build
      // whose API this harness no longer fits is reported skipped, with the error.
      try {
        return { ok: true, target: await startGateway(name, 'inline', o, 'gateway-child', b.build.dir) };
      } catch (e) {
        return { ok: false, name, skipped: `previous build ${b.build.sha.slice(0, 12)} did not start`, reason: (e as Error).message };
      }
    }
    case 'nginx': {
      const bin = findNginx(o.nginxBin);
      if (!bin) return { ok: false, name, skipped: NGINX_INSTALL_HINT, reason: `looked for ${o.nginxBin ?? 'nginx on PATH and in the sbin dirs'}` };
      try {
        const n = await startNginx(bin, o.sim.url, { workers: o.nginxWorkers, keepalive: o.maxInFlight });
        try {
          await probe(n.url);
        } catch (e) {
          await n.stop();
          throw e;
        }
        return { ok: true, target: { name, url: n.url, pids: n.pids, stop: n.stop } };
      } catch (e) {
        return { ok: false, name, skipped: `nginx at ${bin} did not start`, reason: (e as Error).message };
      }
    }
  }
}

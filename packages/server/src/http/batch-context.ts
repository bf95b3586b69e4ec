import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorFlavor } from '@ollama-ring/protocol';
import type { GatewayContext } from '../gateway-context';
import type { JobProgress } from '../batch/jobs';
import { BatchService, ownerOf } from '../batch/service';
import { clientIdentity } from './auth';
import { sendError } from './errors';

const services = new WeakMap<GatewayContext, Promise<BatchService>>();

/** How long the pool's slot count is reused before it is read again. */
const SLOTS_TTL_MS = 1_000;

/**
 * The gateway's batch service, opened (and its unfinished jobs resumed) on the first call, on
 * `batch.dataDir` as configured then.
 *
 * @example const batches = await batchesFor(gw);
 */
export function batchesFor(gw: GatewayContext): Promise<BatchService> {
  let s = services.get(gw);
  if (!s) {
    const cfg = gw.config().batch;
    let slots = { value: 0, at: 0 };
    s = BatchService.open({
      dir: cfg.dataDir,
      retentionMs: () => gw.config().batch.retentionMs,
      pipeline: () => gw.pipeline(),
      concurrency: () => {
        const set = gw.config().batch.concurrency;
        if (set > 0) return set;
        // Enough lines to fill every slot of the pool: the scheduler places them.
        if (Date.now() - slots.at > SLOTS_TTL_MS) {
          const value = gw.factory
            .getNodeRegistry()
            .getAllNodes()
            .reduce((n, node) => n + node.maxConcurrent, 0);
          slots = { value: Math.max(1, value), at: Date.now() };
        }
        return slots.value;
      },
      clientKeyOf: (owner) => gw.config().auth.apiKeys.find((k) => ownerOf(k.key, true) === owner)?.key,
      leases: gw.factory.getJobLeases(),
      logger: gw.logger.child({ component: 'batch' }),
    });
    services.set(gw, s);
  }
  return s;
}

/**
 * The batch service with its store as it is now: with replicas sharing it, read again first, so
 * that what another replica made or changed is seen (see `BatchStore.refresh`).
 */
export async function freshBatches(gw: GatewayContext): Promise<BatchService> {
  const b = await batchesFor(gw);
  await b.store.refresh();
  return b;
}

/** The gateway is closing: no batch line starts from now on. */
export function stopBatches(gw: GatewayContext): void {
  void services.get(gw)?.then((s) => s.stopping());
}

/** Waits for the batch lines still running to end and be recorded. */
export async function closeBatches(gw: GatewayContext): Promise<void> {
  const s = services.get(gw);
  if (!s) return;
  await (await s).close();
}

/**
 * The batch gauges in Prometheus' text format, read when scraped: `<prefix>_batch_lines{batch,state}`,
 * the lines of each job running in this process that are `queued`, `running`, `done` and `failed`.
 * Empty before the batch service is open (it is opened by the batch routes, not by a scrape).
 */
export async function batchMetrics(gw: GatewayContext): Promise<string> {
  if (!services.has(gw)) return '';
  const jobs = await batchProgress(gw);
  // The prefix as the balancer's metrics normalised it (with its one trailing `_`).
  const name = `${gw.factory.getMetricsRegistry().metrics.prefix}batch_lines`;
  const lines = [`# HELP ${name} Lines of each batch job running here, by state: queued, running, done, failed.`, `# TYPE ${name} gauge`];
  for (const j of jobs) {
    for (const state of ['queued', 'running', 'done', 'failed'] as const) lines.push(`${name}{batch="${j.id}",state="${state}"} ${j[state]}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * The lines of each batch job running in this process, by state; none before the batch service is
 * open (the batch routes open it; a reader of progress does not).
 *
 * @example (await batchProgress(gw)).map((j) => `${j.id}: ${j.done} done`);
 */
export async function batchProgress(gw: GatewayContext): Promise<JobProgress[]> {
  const s = services.get(gw);
  if (!s) return [];
  return (await s.catch(() => undefined))?.jobs.progress() ?? [];
}

/**
 * The owner a batch request acts for, or undefined after answering 401 (in OpenAI's shape unless
 * `flavor` says otherwise): with `auth.apiKeys` configured, its key; without, everyone (see `ownerOf`).
 */
export function batchOwner(gw: GatewayContext, req: IncomingMessage, res: ServerResponse, flavor: ErrorFlavor = 'openai'): string | undefined {
  const cfg = gw.config();
  const id = clientIdentity(req, cfg);
  if (id === null) {
    sendError(res, 401, 'unauthorized: a valid API key is required (Authorization: Bearer or X-API-Key)', flavor);
    return undefined;
  }
  return ownerOf(id, cfg.auth.apiKeys.length > 0);
}

/**
 * One page of a list in OpenAI's cursor shape, newest first (or oldest, `asc`): the items after the
 * id `after` in that order, at most `limit` of them, and whether more follow.
 */
export function page<T extends { id: string }>(
  items: T[],
  after: string | null,
  limit: number,
  order: 'asc' | 'desc' = 'desc',
): { object: 'list'; data: T[]; first_id: string | null; last_id: string | null; has_more: boolean } {
  // Ids sort by creation time (see `newId`).
  const dir = order === 'desc' ? -1 : 1;
  const sorted = items.sort((a, b) => (a.id < b.id ? -dir : a.id > b.id ? dir : 0));
  const from = after === null ? sorted : sorted.filter((x) => (order === 'desc' ? x.id < after : x.id > after));
  const data = from.slice(0, limit);
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more: from.length > limit };
}

/**
 * An integer query parameter within [min, max], its default when absent, or undefined after
 * answering 400.
 */
export function intParam(url: URL, name: string, dflt: number, min: number, max: number, res: ServerResponse): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    sendError(res, 400, `${name} must be an integer from ${min} to ${max} (got '${raw}')`, 'openai');
    return undefined;
  }
  return n;
}

import { type OllamaProbe, toProbeError } from './ollama-probe';
import { ExpositionError, parsePrometheusText } from './prometheus-text';
import { isEmptySignals, RESOURCE_FAMILIES, type ResourceSignals, resourceSignals, type ScrapeOutcome } from './resource-signals';

/**
 * The outcome of one scrape of a node's exporter, sent to the scheduler as an event. Without
 * `signals` (a failure, or an exposition with none of the families) the node has no signals until
 * the next good scrape: it is scored neutrally, and its health is not touched.
 *
 * @example
 * const r: ResourceScrape = { nodeId: 'gpu-1', outcome: 'ok', checkedAt: Date.now(), signals: { cpuLoadPerCore: 0.3 } };
 */
export interface ResourceScrape {
  nodeId: string;
  outcome: ScrapeOutcome;
  /** Epoch ms when the scrape finished. */
  checkedAt: number;
  signals?: ResourceSignals;
  /** Why it failed (credentials in URLs masked, as in every probe error). */
  error?: string;
}

/**
 * Who to scrape: a node's id and its `metricsUrl` (credentials in it travel as basic auth, its query
 * string is kept).
 *
 * @example
 * const t: ScrapeTarget = { id: 'gpu-1', metricsUrl: 'http://10.0.0.5:9100/metrics' };
 */
export interface ScrapeTarget {
  id: string;
  metricsUrl: string;
}

/**
 * GETs the exporter's page through the probe's agent (its deadline, its small pools, its error
 * classes) and reduces it to the node's signals. Never throws: an aborted scrape comes back as
 * `outcome: 'network'` with `error` saying so, for the caller to drop.
 *
 * @example
 * const r = await scrapeResources(probe, { id: 'gpu-1', metricsUrl: 'http://10.0.0.5:9100/metrics' });
 */
export async function scrapeResources(probe: OllamaProbe, target: ScrapeTarget, signal?: AbortSignal): Promise<ResourceScrape> {
  const nodeId = target.id;
  try {
    const { base, path } = splitUrl(target.metricsUrl);
    const text = await probe.getText({ id: nodeId, url: base }, path, signal);
    const signals = resourceSignals(parsePrometheusText(text, RESOURCE_FAMILIES));
    if (isEmptySignals(signals)) {
      return { nodeId, outcome: 'empty', checkedAt: Date.now(), error: 'the exporter serves none of the resource metrics read' };
    }
    return { nodeId, outcome: 'ok', checkedAt: Date.now(), signals };
  } catch (e) {
    if (e instanceof ExpositionError) return { nodeId, outcome: 'malformed', checkedAt: Date.now(), error: e.message };
    const err = toProbeError(e);
    const outcome: ScrapeOutcome = err.kind === 'aborted' ? 'network' : err.kind;
    return { nodeId, outcome, checkedAt: Date.now(), error: err.message };
  }
}

/**
 * `http://u:p@h:9100/x/metrics?a=1` → base `http://u:p@h:9100/x/` (credentials kept: the probe turns
 * them into a header) and path `/metrics?a=1`, so that errors name the page (`GET /metrics: …`).
 */
function splitUrl(metricsUrl: string): { base: string; path: string } {
  const u = new URL(metricsUrl);
  const p = u.pathname.replace(/\/+$/, '');
  const trailing = p !== '' && u.pathname.endsWith('/') ? '/' : '';
  const cut = p.lastIndexOf('/');
  const path = `${cut === -1 ? '/' : p.slice(cut) + trailing}${u.search}`;
  u.pathname = cut === -1 ? '/' : `${p.slice(0, cut)}/`;
  u.search = '';
  u.hash = '';
  return { base: u.href, path };
}

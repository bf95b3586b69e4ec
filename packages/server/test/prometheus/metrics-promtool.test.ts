import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allRoutes } from '../../src';
import { startGateway, type GatewayHarness } from '../gateway-harness';
import { driveMixedLoad, LOAD_NODES, scrape } from './load';
import { promtool } from './tools';

// The gateway's /metrics, after a load that gives every family samples (streams, errors, retries,
// autobatch, embedding jobs, an OpenAI batch), is checked by the real `promtool check metrics`:
// names, HELP and TYPE lines, units, counters ending in _total.

// Both placements of the metrics stage: on a worker, each scrape aggregates the worker's registry.
describe.each(['inline', 'worker'] as const)('/metrics passes promtool check metrics (metrics stage %s)', (placement) => {
  let h: GatewayHarness;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ring-promtool-'));
    h = await startGateway(
      LOAD_NODES,
      (c) => {
        c.batch.dataDir = dir;
        c.autobatch.windowMs = 50;
        c.disruptor.metricsPlacement = placement;
      },
      { routes: allRoutes },
    );
  });
  afterAll(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lints clean after a mixed load, with the families the load touched present', async () => {
    const { ok, duringBatch } = await driveMixedLoad(h);
    expect(ok).toBeGreaterThan(10);
    const text = await scrape(h.url);
    // The load reached the families it was meant to (or the check below would prove little).
    for (const sample of [
      /^ollama_lb_requests_total\{model="llama3\.2:latest",node="gpu-[ab]",outcome="success"\} [1-9]/m,
      /^ollama_lb_requests_total\{model="no-such-model:latest",node="none",outcome="error"\} 1/m,
      /^ollama_lb_ttft_seconds_bucket\{/m,
      /^ollama_lb_retries_total\{node="gpu-[ab]"\} [1-9]/m,
      /^ollama_lb_cold_loads_total\{/m,
      /^ollama_lb_tokens_generated_total\{/m,
      /^ollama_lb_embed_coalesced_calls_total [1-9]/m,
      /^ollama_lb_model_nodes\{model="llama3\.2:latest"\} 2$/m,
      /^ollama_lb_model_nodes_serving\{model="nomic-embed-text:latest"\} 2$/m,
      /^ollama_lb_gateway_ready 1$/m,
    ]) {
      expect(text).toMatch(sample);
    }
    expect(duringBatch).toMatch(/^ollama_lb_batch_lines\{batch="batch_[^"]+",state="queued"\} \d/m);
    for (const scraped of [text, duringBatch]) {
      const r = await promtool(['check', 'metrics'], scraped);
      // promtool prints its findings (and exits non-zero on any) to stderr.
      expect(r.stdout + r.stderr).toBe('');
    }
  });
});

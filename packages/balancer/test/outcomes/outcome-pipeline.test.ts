// The completion/metrics stage: what the scheduler reports becomes records on the outcome ring,
// and the stage turns them into the metrics a scrape shows, after the scheduler's batch.
import { BalancerMetrics } from '../../src/metrics';
import { OutcomePipeline } from '../../src/outcomes/outcome-pipeline';

const tick = () => new Promise<void>((r) => setImmediate(r));

async function sample(m: BalancerMetrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = m.registry.getSingleMetric(`${m.prefix}${name}`);
  if (!metric) throw new Error(`no metric ${name}`);
  const v = (await metric.get()).values.find((x) => Object.entries(labels).every(([k, want]) => String(x.labels[k]) === want));
  return v?.value ?? 0;
}

test('every kind of report reaches its metric, off the reporting call', async () => {
  const m = new BalancerMetrics();
  const p = new OutcomePipeline(m, { size: 64 });
  await p.start();
  const o = p.publisher;
  o.requestEnded({ requestId: 1, model: 'm:latest', nodeId: 'a', outcome: 'success', latencyMs: 1200, ttftMs: 300, queueMs: 0, retries: 0, evalTokens: 42 });
  o.requestEnded({
    requestId: 2,
    model: 'm:latest',
    nodeId: 'a',
    outcome: 'upstream_error',
    errorCode: 'ERR_UPSTREAM',
    latencyMs: 50,
    ttftMs: 0,
    queueMs: 0,
    retries: 2,
    evalTokens: 0,
  });
  o.coldLoad('b', 'x:latest');
  o.retry('a');
  o.queueWait(250);
  o.rejected('queue_full');
  o.rejected('rate_limited', 'client');
  o.timeout('first-byte');
  o.timeout('queue'); // the queue's own timeouts are counted as queue rejections, not upstream timeouts
  // Nothing yet: the stage runs after the caller's synchronous work.
  expect(await sample(m, 'requests_total', { node: 'a', outcome: 'success' })).toBe(0);
  await tick();
  expect(await sample(m, 'requests_total', { model: 'm:latest', node: 'a', outcome: 'success' })).toBe(1);
  expect(await sample(m, 'requests_total', { node: 'a', outcome: 'error' })).toBe(1);
  expect(await sample(m, 'errors_total', { type: 'ERR_UPSTREAM' })).toBe(1);
  expect(await sample(m, 'tokens_generated_total', { node: 'a' })).toBe(42);
  expect(await sample(m, 'cold_loads_total', { node: 'b', model: 'x:latest' })).toBe(1);
  expect(await sample(m, 'retries_total', { node: 'a' })).toBe(1);
  expect(await sample(m, 'queue_rejected_total', { reason: 'full' })).toBe(1);
  expect(await sample(m, 'rate_limited_total', { limit: 'client' })).toBe(1);
  expect(await sample(m, 'timeouts_total', { phase: 'first-byte' })).toBe(1);
  const text = await m.scrape();
  expect(text).toMatch(/queue_wait_seconds_count 1/);
  await p.shutdown();
});

test('a full outcome ring loses records, never blocks the scheduler, and the loss is counted', async () => {
  const m = new BalancerMetrics();
  const p = new OutcomePipeline(m, { size: 4 });
  await p.start();
  for (let i = 0; i < 10; i++) p.publisher.retry('a');
  expect(p.publisher.dropped).toBe(6);
  m.setOutcomesDropped(p.publisher.dropped);
  await tick();
  expect(await sample(m, 'retries_total', { node: 'a' })).toBe(4);
  expect(await sample(m, 'outcome_records_dropped_total')).toBe(6);
  for (let i = 0; i < 3; i++) p.publisher.retry('a'); // room again once the stage has run
  await tick();
  expect(p.publisher.dropped).toBe(6);
  expect(await sample(m, 'retries_total', { node: 'a' })).toBe(7);
  await p.shutdown();
});

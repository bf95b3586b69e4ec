// Leases (pipeline.select), end to end against the emulator: seed 001's get_instance /
// record_success / record_failure for applications that make the HTTP call themselves.
import { request } from 'undici';
import { InferenceRequest, LeaseExpiredError, ModelNotFoundError, QueueTimeoutError, RequestAbortedError, UpstreamError, ValidationError, type Lease } from '@ollama-ring/balancer';
import { eventually, type Harness, inFlight, startHarness } from './harness';

const prompt = () => InferenceRequest.ofPrompt('llama3.2', 'hi', { options: { num_predict: 4 } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Settles to 'pending' if `p` has not settled yet. */
async function stateOf(p: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> {
  return Promise.race([
    p.then(
      () => 'resolved' as const,
      () => 'rejected' as const,
    ),
    sleep(0).then(() => 'pending' as const),
  ]);
}

/** One sample of the balancer's Prometheus text, by exact name and labels. */
async function metric(h: Harness, sample: string): Promise<number | undefined> {
  const text = await h.factory.getMetricsRegistry().scrape();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

describe('leases: pipeline.select', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  test('a lease holds a slot of its node: counted in in-flight with proxied requests, which wait for it', async () => {
    h = await startHarness([{ id: 'a', models: ['llama3.2'], numParallel: 1 }]);
    const pipeline = h.factory.getPipeline();
    const lease = await pipeline.select('llama3.2');
    expect(lease.node).toEqual({ id: 'a', url: h.sim.nodes[0].url, headers: {} });
    expect([lease.model, lease.state]).toEqual(['llama3.2', 'held']);
    expect(inFlight(h)).toEqual({ a: 1 });
    expect(h.factory.getPoolView().leases).toEqual({ held: 1, expired: 0 });

    // The node's one slot is the lease's: a proxied request waits in the queue for it.
    const proxied = pipeline.submit(prompt());
    await eventually(() => h!.factory.getPoolView().queue.depth === 1, 5_000, 'the request to queue');
    await sleep(200);
    expect(await stateOf(proxied)).toBe('pending');
    expect(h.sim.node('a').state().peakInferenceInFlight).toBe(0);

    expect(lease.success(50)).toBe(true);
    expect(lease.success(50)).toBe(false); // once
    expect(lease.state).toBe('released');
    expect((await proxied).nodeId).toBe('a');
    await eventually(() => inFlight(h!).a === 0, 5_000, 'in-flight back to 0');
    expect(h.factory.getPoolView().leases).toEqual({ held: 0, expired: 0 });
  });

  test('a lease waits in the queue like a request: in priority order, until its signal aborts or queue.maxWaitMs passes', async () => {
    h = await startHarness([{ id: 'a', models: ['llama3.2'], numParallel: 1 }], (c) => {
      c.queue.maxWaitMs = 1_500;
    });
    const pipeline = h.factory.getPipeline();
    const held = await pipeline.select('llama3.2');
    const proxied = pipeline.submit(prompt());
    const urgent = pipeline.select('llama3.2', { priority: 10 });
    const ac = new AbortController();
    const abandoned = pipeline.select('llama3.2', {}, { signal: ac.signal });
    await eventually(() => h!.factory.getPoolView().queue.depth === 3, 5_000, 'three waiters');
    ac.abort();
    await expect(abandoned).rejects.toBeInstanceOf(RequestAbortedError);

    // Released, the slot goes to the waiter of highest priority, the later lease.
    held.success(10);
    const second = await urgent;
    expect(await stateOf(proxied)).toBe('pending');
    expect(inFlight(h)).toEqual({ a: 1 });
    second.failure(new UpstreamError('a', 400, 'bad request'));
    expect((await proxied).nodeId).toBe('a');

    // No slot within queue.maxWaitMs: the select fails as a request would.
    const third = await pipeline.select('llama3.2');
    await expect(pipeline.select('llama3.2')).rejects.toBeInstanceOf(QueueTimeoutError);
    third.success(10);
    await eventually(() => inFlight(h!).a === 0, 5_000, 'in-flight back to 0');
    expect(h.factory.getPoolView().queue.depth).toBe(0);
  });

  test('the application calls the emulator node itself with undici; success teaches the estimates and counts as a served request', async () => {
    h = await startHarness([{ id: 'a', models: ['llama3.2'], numParallel: 2 }]);
    const lease = await h.factory.getPipeline().select('llama3.2');
    const t0 = Date.now();
    const res = await request(`${lease.node.url}/api/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...lease.node.headers },
      body: JSON.stringify({ model: lease.model, messages: [{ role: 'user', content: 'Why is the sky blue?' }], stream: false, options: { num_predict: 16 } }),
      signal: lease.signal,
    });
    expect(res.statusCode).toBe(200);
    const answer = (await res.body.json()) as Record<string, unknown>;
    expect(answer).toMatchObject({ done: true, eval_count: 16 });
    expect(lease.success(Date.now() - t0, { response: answer })).toBe(true);

    await eventually(() => h!.factory.getPoolView().estimates.a.samples === 1, 5_000, 'a sample');
    const est = h.factory.getPoolView().estimates.a;
    expect(est.successRate).toBe(1);
    expect(est.latencyMs).toBeGreaterThan(0);
    // Ollama's final object taught the token speed of the model there.
    expect(est.models['llama3.2:latest'].generateTps).toBeGreaterThan(0);
    expect(await metric(h, 'ollama_lb_requests_total{model="llama3.2:latest",node="a",outcome="success"}')).toBe(1);
    expect(inFlight(h)).toEqual({ a: 0 });
  });

  test('failure feeds the breaker as a proxied failure does; a refused connection takes the node down at once; a 4xx counts for nothing', async () => {
    h = await startHarness(
      [
        { id: 'a', models: ['llama3.2'], numParallel: 2 },
        { id: 'b', models: ['llama3.2'], numParallel: 2 },
      ],
      (c) => {
        c.nodes[0].tags = ['first'];
        c.nodes[1].tags = ['second'];
        c.healthCheck.intervalMs = 60_000; // no health check brings a node back during the test
        c.healthCheck.circuitBreakerFailureThreshold = 2;
        c.healthCheck.circuitBreakerRecoveryMs = 60_000;
      },
    );
    const pipeline = h.factory.getPipeline();
    const node = (id: string) => h!.factory.getNodeRegistry().getNode(id)!;
    const onA = () => pipeline.select('llama3.2', { tags: ['first'] });

    // A client error is the application's, not the node's.
    (await onA()).failure(new Error('the model refused the prompt'), { status: 400 });
    await eventually(() => node('a').inFlight === 0, 5_000, 'a released');
    expect(node('a')).toMatchObject({ breakerState: 'closed', failedRequests: 0 });

    // Two failures in a row open a's breaker (circuitBreakerFailureThreshold: 2).
    (await onA()).failure(new Error('socket hang up'));
    (await onA()).failure(new UpstreamError('a', 503, 'server busy'));
    await eventually(() => node('a').breakerState === 'open', 5_000, "a's breaker to open");
    expect(node('a').failedRequests).toBe(2);
    // Out of rotation: an untagged select goes to b.
    const onB = await pipeline.select('llama3.2');
    expect(onB.node.id).toBe('b');

    // A refused connection is proof the node is down, as for a proxied request.
    onB.failure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }));
    await eventually(() => node('b').health === 'UNHEALTHY', 5_000, 'b down');
    expect(inFlight(h)).toEqual({ a: 0, b: 0 });
  });

  test('a lease never released is taken back at its TTL: counted, its signal aborted, its slot given to the next waiter', async () => {
    h = await startHarness([{ id: 'a', models: ['llama3.2'], numParallel: 1 }], (c) => {
      c.leases.ttlMs = 300;
    });
    const pipeline = h.factory.getPipeline();
    const forgotten = await pipeline.select('llama3.2');
    const next = pipeline.submit(prompt());
    await eventually(() => forgotten.state === 'expired', 5_000, 'the lease to expire');
    expect(forgotten.signal.aborted).toBe(true);
    expect(forgotten.signal.reason).toBeInstanceOf(LeaseExpiredError);
    expect((await next).nodeId).toBe('a');
    expect(forgotten.success(10)).toBe(false);
    expect(forgotten.failure(new Error('late'))).toBe(false);

    // The select's own TTL wins over leases.ttlMs.
    const lasting = await pipeline.select('llama3.2', {}, { ttlMs: 60_000 });
    await sleep(600);
    expect(lasting.state).toBe('held');
    lasting.success(5);

    await eventually(() => inFlight(h!).a === 0, 5_000, 'in-flight back to 0');
    expect(h.factory.getPoolView().leases).toEqual({ held: 0, expired: 1 });
    expect(await metric(h, 'ollama_lb_leases_expired_total')).toBe(1);
    expect(await metric(h, 'ollama_lb_leases_held')).toBe(0);
    // Not the node's fault: its breaker and success rate are untouched.
    expect(h.factory.getNodeRegistry().getNode('a')).toMatchObject({ breakerState: 'closed', failedRequests: 0 });
  });

  test('a shutdown takes held leases back after its grace period; their signal aborts', async () => {
    h = await startHarness([{ id: 'a', models: ['llama3.2'], numParallel: 1 }]);
    const lease: Lease = await h.factory.getPipeline().select('llama3.2');
    const signal = lease.signal;
    await h.factory.stop(200);
    expect(lease.state).toBe('cancelled');
    expect(signal.aborted).toBe(true);
    expect(lease.success(1)).toBe(false);
  });

  test('bad input is refused at once with a clear error; an unknown model as a request would be', async () => {
    h = await startHarness([{ id: 'a', models: ['llama3.2'], numParallel: 1 }]);
    const pipeline = h.factory.getPipeline();
    await expect(pipeline.select('')).rejects.toBeInstanceOf(ValidationError);
    await expect(pipeline.select('llama3.2', {}, { ttlMs: 0 })).rejects.toThrow(/ttlMs must be an integer/);
    await expect(pipeline.select('no-such-model')).rejects.toBeInstanceOf(ModelNotFoundError);
    // A fallback model is taken as by a request.
    const lease = await pipeline.select('no-such-model', { fallbackModel: 'llama3.2' });
    expect(lease.model).toBe('llama3.2');
    expect(() => lease.success(-1)).toThrow(/durationMs must be a number of ms >= 0/);
    expect(() => lease.failure(new Error('x'), { status: 200 })).toThrow(/status must be an HTTP error status/);
    expect(lease.state).toBe('held');
    lease.success(1);
    await eventually(() => inFlight(h!).a === 0, 5_000, 'in-flight back to 0');
    expect(h.factory.getPoolView().live).toBe(0);
  });
});

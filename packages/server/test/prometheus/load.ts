import type { SimNodeConfig } from '@ollama-ring/ollama-sim';
import { eventually, inFlight } from '../../../balancer/test/e2e/harness';
import type { GatewayHarness } from '../gateway-harness';

// A mixed load for the metrics tests: every kind of traffic that creates a metric family's series
// (streamed and whole answers, embeddings coalesced by the autobatch, a background embedding job, an
// OpenAI batch, upstream errors, a model nobody has, a cold load), so that `/metrics` afterwards
// shows the families with samples, not only their HELP lines.

export const CHAT_MODEL = 'llama3.2';
export const EMBED_MODEL = 'nomic-embed-text';

/** Two nodes that serve both models, so failures on one are retried on the other. */
export const LOAD_NODES: SimNodeConfig[] = [
  { id: 'gpu-a', models: [CHAT_MODEL, EMBED_MODEL], numParallel: 2, preload: [EMBED_MODEL] },
  { id: 'gpu-b', models: [CHAT_MODEL, EMBED_MODEL], numParallel: 2, preload: [EMBED_MODEL] },
];

async function post(url: string, path: string, body: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, text: await res.text() };
}

/** Waits until a JSON GET answers with a body `done` accepts (polled; throws after `ms`). */
async function pollJson(url: string, done: (b: Record<string, unknown>) => boolean, ms = 20_000): Promise<Record<string, unknown>> {
  const end = Date.now() + ms;
  for (;;) {
    const b = (await (await fetch(url)).json()) as Record<string, unknown>;
    if (done(b)) return b;
    if (Date.now() > end) throw new Error(`${url} still ${JSON.stringify(b).slice(0, 200)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Drives the mixed load through the gateway and waits until every request has ended. Returns how
 * many inference requests it sent that the gateway answered 200, and a scrape taken while the
 * OpenAI batch was running.
 */
export async function driveMixedLoad(h: GatewayHarness): Promise<{ ok: number; duringBatch: string }> {
  let ok = 0;
  const count = (r: { status: number }) => (r.status === 200 ? ok++ : undefined);
  // Streamed and whole chats and generates, several at once: cold loads, TTFT, tokens, queue waits.
  await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      i % 2 === 0
        ? post(h.url, '/api/chat', { model: CHAT_MODEL, messages: [{ role: 'user', content: `hello ${i}` }] }).then(count)
        : post(h.url, '/api/generate', { model: CHAT_MODEL, prompt: `count to ${i}`, stream: false }).then(count),
    ),
  );
  // OpenAI shape, streamed.
  count(await post(h.url, '/v1/chat/completions', { model: CHAT_MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] }));
  // Embeddings at once: the autobatch coalesces them into shared calls.
  await Promise.all(Array.from({ length: 6 }, (_, i) => post(h.url, '/api/embed', { model: EMBED_MODEL, input: `doc ${i}` }).then(count)));
  // Upstream failures: retried elsewhere (retries_total, errors) and one that fails everywhere.
  for (const n of h.sim.nodes) h.sim.node(n.id).setFaults({ failNext: { count: 1, status: 500, message: 'boom' } });
  await post(h.url, '/api/chat', { model: CHAT_MODEL, messages: [{ role: 'user', content: 'fails' }], stream: false });
  h.sim.node(h.sim.nodes[0].id).setFaults({ errorMidStream: { afterTokens: 2, count: 1 } });
  await post(h.url, '/api/chat', { model: CHAT_MODEL, messages: [{ role: 'user', content: 'breaks mid-stream' }] });
  for (const n of h.sim.nodes) h.sim.node(n.id).clearFaults();
  // A model no node has: rejected.
  await post(h.url, '/api/chat', { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] });
  // A background embedding job.
  const job = JSON.parse((await post(h.url, '/api/embed/batch', { model: EMBED_MODEL, docs: ['a', 'b', 'c'] })).text) as { id: string };
  await pollJson(`${h.url}/api/batch-status/${job.id}`, (b) => b.status === 'completed' || b.status === 'failed');
  // An OpenAI batch of six lines, on nodes slowed down so that it is still running when scraped
  // (`batch_lines` shows only the jobs running in the process).
  for (const n of h.sim.nodes) h.sim.node(n.id).setFaults({ slowdown: 20 });
  const form = new FormData();
  form.append('purpose', 'batch');
  const lines = Array.from({ length: 6 }, (_, i) =>
    JSON.stringify({ custom_id: `line-${i}`, method: 'POST', url: '/v1/chat/completions', body: { model: CHAT_MODEL, messages: [{ role: 'user', content: `line ${i}` }] } }),
  );
  form.append('file', new Blob([lines.join('\n') + '\n']), 'input.jsonl');
  const file = (await (await fetch(`${h.url}/v1/files`, { method: 'POST', body: form })).json()) as { id: string };
  const batch = JSON.parse((await post(h.url, '/v1/batches', { input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' })).text) as { id: string };
  await pollJson(`${h.url}/v1/batches/${batch.id}`, (b) => b.status === 'in_progress');
  let duringBatch = '';
  const end = Date.now() + 20_000;
  while (!/_batch_lines\{/.test(duringBatch) && Date.now() < end) duringBatch = await scrape(h.url);
  for (const n of h.sim.nodes) h.sim.node(n.id).clearFaults();
  await pollJson(`${h.url}/v1/batches/${batch.id}`, (b) => ['completed', 'failed', 'cancelled', 'expired'].includes(String(b.status)));
  await eventually(() => Object.values(inFlight(h)).every((n) => n === 0), 10_000, 'in-flight back to zero');
  return { ok, duringBatch };
}

/** The gateway's `/metrics` text. */
export async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return res.text();
}

import { connect } from 'node:net';
import { Ollama } from 'ollama';
import { allRoutes } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

type Progress = { status?: string; error?: string; ollama_ring?: { node?: string; nodes?: Record<string, string> } };

/**
 * One keep-alive connection, written by hand: sends `first`, and once its response has begun,
 * calls `during()` and queues `second` on the same connection (the server reads it only after the
 * first response ends). Resolves with everything the server sent until it closed the connection.
 */
function twoOnOneConnection(port: number, first: string, second: string, during: () => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    let begun = false;
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      text += d;
      if (!begun && text.includes('pulling')) {
        begun = true;
        during();
        s.write(second);
      }
    });
    s.on('close', () => resolve(text));
    s.on('error', reject);
    s.write(first);
  });
}

const pullRequest = (model: string) => {
  const body = JSON.stringify({ model });
  return `POST /api/pull HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
};

/** The NDJSON objects of a chunked body inside raw HTTP text (chunk-size lines are not JSON and are skipped). */
function ndjsonIn(raw: string): Progress[] {
  return raw
    .split(/\r?\n/)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Progress);
}

describe('graceful close lets model-management streams finish', () => {
  let g: GatewayHarness;
  afterEach(() => g.close());

  const start = () =>
    startGateway(
      [
        { id: 'a', models: ['llama3.2'], numParallel: 1 },
        { id: 'b', models: ['llama3.2'], numParallel: 1 },
      ],
      undefined,
      { routes: allRoutes },
    );

  test('a pull in progress finishes within the grace period; a new one on the same connection gets 503', async () => {
    g = await start();
    // qwen3's layers now take about a second to "download" on each node.
    for (const id of ['a', 'b']) g.sim.node(id).setFaults({ slowdown: 10 });
    let closed = false;
    let closing: Promise<void> | undefined;
    const raw = await twoOnOneConnection(Number(new URL(g.url).port), pullRequest('qwen3'), pullRequest('llama3.2'), () => {
      closing = g.gateway.close(20_000).then(() => {
        closed = true;
      });
    });
    const [head1, rest] = [raw.slice(0, raw.indexOf('\r\n')), raw.slice(raw.indexOf('\r\n'))];
    expect(head1).toBe('HTTP/1.1 200 OK');
    const lines = ndjsonIn(rest.slice(0, rest.indexOf('HTTP/1.1 ')));
    expect(lines.at(-1)).toEqual({ status: 'success', ollama_ring: { nodes: { a: 'success', b: 'success' } } });
    expect(lines.some((l) => l.error !== undefined)).toBe(false);
    expect(lines.map((l) => l.status)).toEqual(expect.arrayContaining(['a: success', 'b: success']));
    // The second request arrived after close() had begun: refused in Ollama's shape, with Retry-After.
    const second = rest.slice(rest.indexOf('HTTP/1.1 '));
    expect(second).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(second).toMatch(/\r\nretry-after: 5\r\n/i);
    expect(second).toContain('{"error":"the gateway is shutting down"}');
    await closing;
    expect(closed).toBe(true);
    expect(g.gateway.address()).toBeNull();
    // Both nodes really have the model: the pull was not cut on the way.
    for (const id of ['a', 'b']) {
      const tags = (await (await fetch(`${g.sim.node(id).url}/api/tags`)).json()) as { models: { name: string }[] };
      expect(tags.models.map((m) => m.name)).toContain('qwen3:latest');
    }
  });

  test('a pull still going when the grace period ends is aborted upstream and ends with an error line (official client)', async () => {
    g = await start();
    // Far longer than the grace period.
    for (const id of ['a', 'b']) g.sim.node(id).setFaults({ slowdown: 400 });
    const ollama = new Ollama({ host: g.url });
    const stream = await ollama.pull({ model: 'qwen3', stream: true });
    const seen: string[] = [];
    const consumed = (async () => {
      for await (const p of stream) seen.push(p.status);
    })();
    const until = Date.now() + 5_000;
    while (!seen.some((s) => s.includes('pulling')) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    const t0 = Date.now();
    await g.gateway.close(300);
    // Grace, then a short settle for the last lines; far from the minutes the pull would take.
    expect(Date.now() - t0).toBeLessThan(4_000);
    await expect(consumed).rejects.toThrow(/^pull failed on a \(aborted: the gateway shut down before this finished\), b \(aborted: the gateway shut down before this finished\)$/);
    expect(seen).toEqual(expect.arrayContaining(['a: error: aborted: the gateway shut down before this finished']));
    // The nodes were told: neither finished the pull.
    for (const id of ['a', 'b']) {
      const tags = (await (await fetch(`${g.sim.node(id).url}/api/tags`)).json()) as { models: { name: string }[] };
      expect(tags.models.map((m) => m.name)).not.toContain('qwen3:latest');
    }
  });
});

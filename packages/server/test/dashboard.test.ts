import { request, type IncomingMessage } from 'node:http';
import { allRoutes } from '../src';
import { SeriesRecorder } from '../src/dashboard/series';
import { startGateway, type GatewayHarness } from './gateway-harness';

const API_KEY = 'stream-reader-key';

interface SseEvent {
  event: string;
  data: string;
}

/** An open `/dashboard/events` stream: the events parsed so far, as they come. */
interface Stream {
  status: number;
  headers: IncomingMessage['headers'];
  events: SseEvent[];
  ended: Promise<void>;
  close(): void;
}

function openEvents(url: string, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/dashboard/events`, { headers }, (res) => {
      const events: SseEvent[] = [];
      let buf = '';
      const ended = new Promise<void>((r) => res.once('close', () => r()));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (data !== undefined) events.push({ event, data });
        }
      });
      res.on('error', () => undefined);
      resolve({ status: res.statusCode ?? 0, headers: res.headers, events, ended, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function generate(url: string, n: number, tokens = 8): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, async () => {
      const res = await fetch(`${url}/api/generate`, {
        method: 'POST',
        body: JSON.stringify({ model: 'llama3.2', prompt: 'hi', stream: false, options: { num_predict: tokens } }),
      });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }),
  );
}

type Snapshot = {
  nodes: { id: string; models: { model: string; state: string }[]; slots: number }[];
  queue: { depth: number; oldestWaitMs: number; groups: { model: string; class: string; waiting: number; oldestWaitMs: number }[] };
  sample: { req: number; ok: number; ttft50: number | null };
};

describe('/dashboard over the emulated pool', () => {
  let g: GatewayHarness;

  beforeAll(async () => {
    g = await startGateway(
      [
        { id: 'a', numParallel: 2, models: ['llama3.2', 'qwen3'] },
        { id: 'b', numParallel: 1, models: ['llama3.2'] },
      ],
      () => undefined,
      { routes: allRoutes },
    );
  }, 30_000);
  afterAll(async () => g?.close(), 30_000);

  test('the page and its files are served from the gateway, cached by ETag; an unknown file is 404', async () => {
    for (const path of ['/dashboard', '/dashboard/']) {
      const page = await fetch(`${g.url}${path}`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
      const html = await page.text();
      const base = path.endsWith('/') ? '' : 'dashboard/';
      expect(html).toContain(`src="${base}assets/uPlot.iife.min.js"`);
      expect(html).toContain(`src="${base}assets/dashboard.js"`);
    }
    for (const [asset, type] of [
      ['dashboard.js', 'text/javascript'],
      ['dashboard.css', 'text/css'],
      ['uPlot.iife.min.js', 'text/javascript'],
      ['uPlot.min.css', 'text/css'],
    ]) {
      const res = await fetch(`${g.url}/dashboard/assets/${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain(type);
      expect((await res.text()).length).toBeGreaterThan(1000);
      const again = await fetch(`${g.url}/dashboard/assets/${asset}`, { headers: { 'if-none-match': res.headers.get('etag') ?? '' } });
      expect(again.status).toBe(304);
    }
    expect((await fetch(`${g.url}/dashboard/assets/package.json`)).status).toBe(404);
    expect((await fetch(`${g.url}/dashboard/assets/..%2Fpackage.json`)).status).toBe(404);
  });

  test('a page opened after traffic gets the history of it: every request counted once, with its time to first token', async () => {
    await generate(g.url, 12);
    // Two ticks: the requests' second has closed into the history.
    await new Promise((r) => setTimeout(r, 2_200));
    const s = await openEvents(g.url);
    try {
      expect(s.status).toBe(200);
      expect(s.headers['content-type']).toContain('text/event-stream');
      await until(() => s.events.length >= 1, 5_000, 'the init event');
      expect(s.events[0].event).toBe('init');
      const init = JSON.parse(s.events[0].data) as { strategies: string[]; history: { req: number; ok: number; ttft50: number | null }[]; snapshot: Snapshot };
      expect(init.strategies).toContain('round-robin');
      expect(init.history.reduce((n, x) => n + x.req, 0)).toBe(12);
      expect(init.history.reduce((n, x) => n + x.ok, 0)).toBe(12);
      expect(init.history.some((x) => x.ttft50 !== null && x.ttft50 > 0)).toBe(true);
      expect(init.snapshot.nodes.map((n) => n.id)).toEqual(['a', 'b']);
      expect(init.snapshot.nodes.flatMap((n) => n.models.map((m) => m.model))).toContain('llama3.2');
    } finally {
      s.close();
    }
  }, 20_000);

  test('every open page gets the same bytes each tick: one snapshot for all', async () => {
    const streams = await Promise.all(Array.from({ length: 5 }, () => openEvents(g.url)));
    try {
      await until(() => streams.every((s) => s.events.filter((e) => e.event === 'tick').length >= 2), 8_000, 'two ticks on every stream');
      // The ticks every stream received after all had opened: the same snapshot, byte for byte.
      const ticks = streams.map((s) => s.events.filter((e) => e.event === 'tick').map((e) => e.data));
      const common = ticks[0].filter((t) => ticks.every((other) => other.includes(t)));
      expect(common.length).toBeGreaterThanOrEqual(1);
      // A few KB a tick for this pool, at most.
      for (const t of ticks.flat()) expect(Buffer.byteLength(t)).toBeLessThan(4_096);
    } finally {
      for (const s of streams) s.close();
    }
  }, 20_000);

  test('the queue: waiting requests by model and class, and the oldest wait', async () => {
    // Node b alone, one slot, made slow: the requests beyond the first wait in the balancer's queue.
    await g.factory.getNodeRegistry().disable('a');
    g.sim.node('b').setFaults({ slowdown: 100 });
    const s = await openEvents(g.url);
    const sent = generate(g.url, 6, 64);
    try {
      await until(
        () =>
          s.events.some((e) => {
            const snap = (e.event === 'init' ? (JSON.parse(e.data) as { snapshot: Snapshot }).snapshot : (JSON.parse(e.data) as Snapshot)).queue;
            return snap.depth >= 2 && snap.groups.some((q) => q.model === 'llama3.2' && q.class === 'interactive' && q.waiting >= 2 && q.oldestWaitMs > 0);
          }),
        15_000,
        'the queue on the dashboard',
      );
    } finally {
      g.sim.node('b').clearFaults();
      await sent;
      s.close();
      await g.factory.getNodeRegistry().enable('a');
    }
    await until(() => g.factory.getPoolView().live === 0, 10_000, 'no request in flight');
  }, 40_000);
});

describe('/dashboard with API keys configured', () => {
  let g: GatewayHarness;

  beforeAll(async () => {
    g = await startGateway([{ id: 'a', numParallel: 1, models: ['llama3.2'] }], (c) => void (c.auth.apiKeys = [{ key: API_KEY, name: 'reader' }]), { routes: allRoutes });
  }, 30_000);
  afterAll(async () => g?.close(), 30_000);

  test('the event stream needs the key: in a header, or as the cookie the session route sets for it', async () => {
    const none = await openEvents(g.url);
    expect(none.status).toBe(401);
    none.close();
    const forged = await openEvents(g.url, { cookie: 'ollama_ring_dashboard=AAAA' });
    expect(forged.status).toBe(401);
    forged.close();
    const header = await openEvents(g.url, { authorization: `Bearer ${API_KEY}` });
    expect(header.status).toBe(200);
    header.close();

    expect((await fetch(`${g.url}/dashboard/session`, { method: 'POST' })).status).toBe(401);
    expect((await fetch(`${g.url}/dashboard/session`, { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const session = await fetch(`${g.url}/dashboard/session`, { method: 'POST', headers: { 'x-api-key': API_KEY } });
    expect(session.status).toBe(204);
    const cookie = session.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^ollama_ring_dashboard=[\w-]+; Path=\/dashboard; HttpOnly; SameSite=Strict$/);
    // The cookie is not the key.
    expect(cookie).not.toContain(API_KEY);
    const withCookie = await openEvents(g.url, { cookie: cookie.split(';')[0] });
    expect(withCookie.status).toBe(200);
    await until(() => withCookie.events.length >= 1, 5_000, 'the init event');
    withCookie.close();

    // The page itself holds no data: it is served to anyone, and asks for the key.
    expect((await fetch(`${g.url}/dashboard`)).status).toBe(200);
  }, 20_000);

  test('closing the gateway ends the open streams at once instead of waiting out its grace period', async () => {
    const s = await openEvents(g.url, { authorization: `Bearer ${API_KEY}` });
    expect(s.status).toBe(200);
    const started = Date.now();
    await g.gateway.close(20_000);
    await s.ended;
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 30_000);
});

describe('SeriesRecorder', () => {
  test('counts a second, takes its quantiles, and keeps the last N seconds in order', () => {
    const r = new SeriesRecorder(3);
    const end = (outcome: 'success' | 'timeout' | 'aborted', ttftMs: number, nodeId = 'n1') =>
      r.observer.requestEnded?.({ requestId: 1, model: 'm', nodeId, outcome, latencyMs: 1, ttftMs, queueMs: 0, retries: 0, evalTokens: 10 });
    for (let i = 1; i <= 100; i++) end('success', i);
    end('timeout', 0, 'n2');
    end('aborted', 0);
    r.observer.coldLoad?.('n1', 'm');
    r.observer.rejected?.('backpressure', 'maxGlobalInFlight');
    const s = r.close(1_000);
    expect(s).toMatchObject({ req: 101, ok: 100, ttft50: 50, ttft99: 99, cold: 1, err: { timeout: 1, backpressure: 1 }, reqBy: { n1: 100, n2: 1 }, tokBy: { n1: 1000, n2: 10 } });
    r.close(2_000);
    r.close(3_000);
    r.close(4_000);
    expect(r.history().map((x) => x.t)).toEqual([2_000, 3_000, 4_000]);
    expect(r.latest(5_000).t).toBe(4_000);
    expect(r.history()[0]).toMatchObject({ req: 0, ttft50: null });
  });
});

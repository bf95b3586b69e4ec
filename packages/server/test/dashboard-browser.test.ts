import type { Page } from 'playwright-core';
import { launchChromium, type Chromium } from '../../../bench/src/common/chromium';
import { allRoutes } from '../src';
import { startGateway, type GatewayHarness } from './gateway-harness';

const ADMIN_TOKEN = 'dashboard-admin-secret';
const API_KEY = 'dashboard-reader-key';

/** Steady traffic through the gateway until stopped: `workers` clients, each a request after another. */
function load(url: string, workers: number, headers: Record<string, string> = {}): { stop(): Promise<void>; sent: () => number } {
  let running = true;
  let sent = 0;
  const models = ['llama3.2', 'qwen3'];
  const worker = async (i: number): Promise<void> => {
    for (let n = 0; running; n++) {
      sent++;
      const res = await fetch(`${url}/api/generate`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: models[(i + n) % models.length], prompt: 'why is the sky blue', stream: false, options: { num_predict: 24 } }),
      }).catch(() => undefined);
      await res?.arrayBuffer().catch(() => undefined);
      if (!res || res.status !== 200) await new Promise((r) => setTimeout(r, 50));
    }
  };
  const all = Array.from({ length: workers }, (_, i) => worker(i));
  return {
    sent: () => sent,
    async stop() {
      running = false;
      await Promise.all(all);
    },
  };
}

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What the page logged as an error, and the scripts it threw from. */
function consoleErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  return errors;
}

/** Chromium logs every refused request as an error; these are the refusals a step expects. */
const refusal = (status: number) => (e: string) => e.includes(`status of ${status}`);

const nodes = [
  { id: 'a', numParallel: 2, models: ['llama3.2', 'qwen3'] },
  { id: 'b', numParallel: 2, models: ['llama3.2', 'qwen3'] },
  { id: 'c', numParallel: 2, models: ['llama3.2', 'qwen3'] },
];

describe('the dashboard in a real browser (headless Chromium), over the emulated pool under load', () => {
  let g: GatewayHarness;
  let browser: Chromium;
  let traffic: ReturnType<typeof load>;

  beforeAll(async () => {
    g = await startGateway(
      nodes,
      (c) => {
        c.auth.adminToken = ADMIN_TOKEN;
        c.healthCheck.intervalMs = 300;
      },
      { routes: allRoutes },
    );
    browser = await launchChromium();
    traffic = load(g.url, 6);
  }, 60_000);

  afterAll(async () => {
    await traffic?.stop();
    // The load has ended: nothing is left in flight.
    if (g) await until(() => g.factory.getPoolView().live === 0, 10_000, 'no request in flight');
    await browser?.close();
    await g?.close();
  }, 60_000);

  test('shows every node and model; a node taken down shows as down within 2 s; no console errors', async () => {
    const page = await browser.context.newPage();
    const errors = consoleErrors(page);
    await page.goto(`${g.url}/dashboard`);
    await page.waitForSelector('[data-node="c"]', { timeout: 10_000 });
    expect(await page.locator('.node[data-node]').count()).toBe(3);
    // Every model the load asks for shows as resident somewhere, and the four charts are drawn.
    for (const m of ['llama3.2', 'qwen3']) await page.waitForSelector(`.model[data-model="${m}"]`, { timeout: 10_000 });
    expect(await page.locator('.uplot').count()).toBe(4);
    await until(async () => Number(await page.locator('#rps').textContent()) > 0, 10_000, 'requests per second on the page');

    // Read-only without the admin token: no action buttons.
    expect(await page.locator('button[data-action]').count()).toBe(0);

    const taken = Date.now();
    g.sim.node('a').refuse();
    await page.waitForSelector('.node[data-node="a"].down', { timeout: 2_000 });
    const shownAfterMs = Date.now() - taken;
    expect(shownAfterMs).toBeLessThan(2_000);
    await g.sim.node('a').accept();
    await page.waitForSelector('.node[data-node="a"][data-can-serve="true"]', { timeout: 15_000 });

    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  test('an admin action with the token takes effect; without it, or with a wrong one, it is refused', async () => {
    const page = await browser.context.newPage();
    const errors = consoleErrors(page);
    await page.goto(`${g.url}/dashboard`);
    await page.waitForSelector('[data-node="b"]', { timeout: 10_000 });
    const nodeB = () => g.factory.getNodeRegistry().getNode('b');

    // Without the token the admin API refuses the page's call, and nothing changes.
    const status = await page.evaluate(() => fetch('/admin/nodes/b/disable', { method: 'POST' }).then((r) => r.status));
    expect(status).toBe(401);
    expect(nodeB()?.adminDisabled).toBe(false);

    // A wrong token: the page says it was refused; nothing changes.
    await page.fill('#admin-input', 'not-the-token');
    await page.click('#admin-form button[type=submit]');
    await page.click('.node[data-node="b"] button[data-action="disable"]');
    await page.waitForSelector('#notice.error', { timeout: 5_000 });
    expect(await page.locator('#notice').textContent()).toMatch(/refused \(403\)/);
    expect(nodeB()?.adminDisabled).toBe(false);

    // The right token: the node is disabled (the admin API says so), and the page shows it.
    await page.click('#admin-off');
    await page.fill('#admin-input', ADMIN_TOKEN);
    await page.click('#admin-form button[type=submit]');
    await page.click('.node[data-node="b"] button[data-action="disable"]');
    await until(() => nodeB()?.adminDisabled === true, 5_000, 'node b disabled');
    const admin = await fetch(`${g.url}/admin/nodes`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then(
      (r) => r.json() as Promise<{ nodes: { id: string; adminDisabled: boolean }[] }>,
    );
    expect(admin.nodes.find((n) => n.id === 'b')?.adminDisabled).toBe(true);
    await page.waitForSelector('.node[data-node="b"] .badge.disabled', { timeout: 5_000 });

    // The strategy, from the page's selector.
    await page.selectOption('#strategy-select', 'round-robin');
    await until(() => g.factory.getPipeline().getStrategy() === 'round-robin', 5_000, 'strategy round-robin');
    await until(async () => (await page.locator('#strategy').textContent()) === 'round-robin', 5_000, 'the page showing round-robin');

    await page.click('.node[data-node="b"] button[data-action="enable"]');
    await until(() => nodeB()?.adminDisabled === false, 5_000, 'node b enabled again');

    // The only errors: Chromium's lines for the two refusals asked for above.
    expect(errors.filter((e) => !refusal(401)(e) && !refusal(403)(e))).toEqual([]);
    expect(errors.filter(refusal(401))).toHaveLength(1);
    expect(errors.filter(refusal(403))).toHaveLength(1);
    await page.close();
  }, 60_000);
});

describe('the dashboard with API keys configured', () => {
  let g: GatewayHarness;
  let browser: Chromium;

  beforeAll(async () => {
    g = await startGateway(
      nodes.slice(0, 2),
      (c) => {
        c.auth.apiKeys = [{ key: API_KEY, name: 'reader' }];
      },
      { routes: allRoutes },
    );
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await g?.close();
  }, 60_000);

  test('the page asks for the key, a wrong one is refused, the right one shows the pool; the cookie is not readable by scripts', async () => {
    const page = await browser.context.newPage();
    const errors = consoleErrors(page);
    await page.goto(`${g.url}/dashboard`);
    await page.waitForSelector('#key-section:not([hidden])', { timeout: 10_000 });
    expect(await page.locator('.node[data-node]').count()).toBe(0);

    await page.fill('#key-input', 'wrong-key');
    await page.click('#key-form button[type=submit]');
    await until(async () => /refused/.test((await page.locator('#key-why').textContent()) ?? ''), 5_000, 'the key refused');
    expect(await page.locator('.node[data-node]').count()).toBe(0);

    await page.fill('#key-input', API_KEY);
    await page.click('#key-form button[type=submit]');
    await page.waitForSelector('[data-node="b"]', { timeout: 10_000 });
    // (The tests are compiled without the DOM's types.)
    expect(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie)).toBe('');

    // Two refusals: the first visit without a key, and the wrong key.
    expect(errors.filter((e) => !refusal(401)(e))).toEqual([]);
    expect(errors.filter(refusal(401))).toHaveLength(2);
    await page.close();
  }, 60_000);
});

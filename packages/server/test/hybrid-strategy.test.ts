// The `hybrid` strategy's affinity rules through the real gateway, over emulated nodes of different
// sizes and speeds: a large model goes to the bigger node, high priority to the fastest, a low
// complexity hint prefers the small node; and the same load without the rules spreads, so it is the
// rules that route.
import type { BalancerConfig, HybridRule } from '@ollama-ring/balancer';
import { startGateway, type GatewayHarness } from './gateway-harness';

const LARGE = 'qwen2.5-coder:32b';
const models = ['llama3.2', { name: LARGE, loadMs: 3000 }];
const ANSWER = { min: 200, max: 300 };

const RULES: HybridRule[] = [
  { name: 'large models to the bigger node', match: { model: '*:32b' }, require: { tags: ['big'] } },
  { name: 'high priority to the fastest', match: { priority: 'high' }, require: { nodes: ['fast'] } },
  { name: 'easy work on the small node', match: { complexity: 'low' }, prefer: { nodes: ['small'] } },
];

const TAGS: Record<string, string[]> = { big: ['big'], fast: ['fast'], small: ['small'] };

/** One non-streamed generate; the node the gateway says served it. */
async function generate(url: string, model: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await fetch(`${url}/api/generate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, prompt: 'hi', stream: false, ...extra }),
  });
  const body = (await res.json()) as { done?: boolean; error?: string };
  if (res.status !== 200 || body.done !== true) throw new Error(`status ${res.status}: ${body.error ?? 'not done'}`);
  return res.headers.get('x-ollama-ring-node') ?? '(none)';
}

/** `n` requests at once; the serving node of each. */
function together(n: number, send: () => Promise<string>): Promise<string[]> {
  return Promise.all(Array.from({ length: n }, send));
}

describe('hybrid rules through the gateway, over nodes of different sizes', () => {
  let h: GatewayHarness;
  beforeAll(async () => {
    h = await startGateway(
      [
        // big: four slots; fast: one slot, ten times the token rate; small: one slow slot. Answers
        // of a few hundred tokens, so that speed shows in the learned service times.
        { id: 'big', numParallel: 4, tokensPerSec: 100, models, preload: ['llama3.2', LARGE], responseTokens: ANSWER },
        { id: 'fast', numParallel: 1, tokensPerSec: 1000, models, preload: ['llama3.2', LARGE], responseTokens: ANSWER },
        { id: 'small', numParallel: 1, tokensPerSec: 40, models, preload: ['llama3.2', LARGE], responseTokens: ANSWER },
      ],
      (c) => {
        for (const n of c.nodes) n.tags = TAGS[n.id];
        c.strategy = { type: 'hybrid', hybrid: { ...c.strategy.hybrid!, rules: RULES } };
      },
    );
  });
  afterAll(() => h.close());
  afterEach(async () => {
    const end = Date.now() + 10_000;
    const busy = () =>
      h.factory
        .getNodeRegistry()
        .getAllNodes()
        .some((n) => n.inFlight > 0);
    while (busy()) {
      if (Date.now() > end) throw new Error('in-flight did not return to 0');
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(h.factory.getPoolView().live).toBe(0);
  });

  /** The config in force with other rules (and, optionally, another pool strategy). */
  const withRules = (rules: HybridRule[], type = 'hybrid'): BalancerConfig => {
    const next = structuredClone(h.config);
    next.strategy = { type, hybrid: { ...next.strategy.hybrid!, rules } };
    return next;
  };

  test('a large model goes to the bigger node, even when six arrive at once for its four slots', async () => {
    const served = await together(6, () => generate(h.url, LARGE));
    expect(served).toEqual(Array(6).fill('big'));
  });

  test('high priority goes to the fastest node, header or body, queueing for its one slot', async () => {
    const byHeader = await together(3, () => generate(h.url, 'llama3.2', { 'x-ollama-ring-priority': 'high' }));
    const byBody = await together(2, () => generate(h.url, 'llama3.2', {}, { priority: 'high' }));
    expect([...byHeader, ...byBody]).toEqual(Array(5).fill('fast'));
  });

  test('a low complexity hint prefers the small node while it is free', async () => {
    expect(await generate(h.url, 'llama3.2', { 'x-ollama-ring-complexity': 'LOW' })).toBe('small');
    expect(await generate(h.url, 'llama3.2', {}, { complexity: 'low' })).toBe('small');
    // Without it, the small node is the slowest (learned) and loses.
    expect(await generate(h.url, 'llama3.2')).not.toBe('small');
  });

  test('without the rules the same loads spread over the pool; the rules come back with a reload', async () => {
    await h.factory.reload(withRules([]));
    try {
      const large = await together(6, () => generate(h.url, LARGE));
      expect(large.filter((n) => n !== 'big').length).toBeGreaterThan(0);
      const urgent = await together(3, () => generate(h.url, 'llama3.2', { 'x-ollama-ring-priority': 'high' }));
      expect(urgent.filter((n) => n !== 'fast').length).toBeGreaterThan(0);
    } finally {
      await h.factory.reload(withRules(RULES));
    }
    expect(await together(2, () => generate(h.url, LARGE))).toEqual(['big', 'big']);
  });

  test('a request may ask for hybrid under another pool strategy; it gets the rules in force, also after a reload changes them', async () => {
    const perRequest = { 'x-ollama-ring-strategy': 'hybrid' };
    try {
      await h.factory.reload(withRules(RULES, 'least-in-flight'));
      expect(await together(3, () => generate(h.url, LARGE, perRequest))).toEqual(['big', 'big', 'big']);
      await h.factory.reload(withRules([{ match: { model: '*:32b' }, require: { nodes: ['small'] } }], 'least-in-flight'));
      expect(await together(3, () => generate(h.url, LARGE, perRequest))).toEqual(['small', 'small', 'small']);
    } finally {
      await h.factory.reload(withRules(RULES));
    }
  });

  test('a reload with invalid hybrid settings is refused and changes nothing', async () => {
    const bad = withRules([{ match: { model: '*:32b' } }]);
    bad.nodes = bad.nodes.filter((n) => n.id !== 'small');
    await expect(h.factory.reload(bad)).rejects.toThrow(/strategy\.hybrid\.rules\[0\]: needs an effect/);
    expect(
      h.factory
        .getNodeRegistry()
        .getAllNodes()
        .map((n) => n.id)
        .sort(),
    ).toEqual(['big', 'fast', 'small']);
    expect(await together(2, () => generate(h.url, LARGE))).toEqual(['big', 'big']);
  });
});

import { Route } from '@ollama-ring/protocol';
import { defaultConfig } from '../../src';
import { dispatchDeadlines, routeClassOf } from '../../src/scheduler/deadlines';
import { Estimates, type FinalChunkStats } from '../../src/scheduler/estimates';
import type { RequestFacts } from '../../src/stages/request-facts';

const facts = (over: Partial<RequestFacts> = {}): RequestFacts => ({
  rawModel: 'm',
  model: 'm:latest',
  optionsSignature: '',
  stream: true,
  promptTokens: 100,
  tags: [],
  ...over,
});
// 100 prompt tokens in 100 ms (1000 tok/s), 50 tokens in 1 s (50 tok/s), no load.
const stats = (loadMs = 0): FinalChunkStats => ({ loadMs, promptTokens: 100, promptEvalMs: 100, evalTokens: 50, evalMs: 1_000, totalMs: 1_100 + loadMs });

describe('dispatchDeadlines', () => {
  const cfg = defaultConfig();

  it('uses the fixed timeouts while nothing is known of the model', () => {
    const d = dispatchDeadlines(cfg, new Estimates(), 'a', facts(), false, 0);
    expect(d.timeouts).toEqual({ firstByteMs: 60_000, idleMs: 30_000, totalMs: 120_000 });
    expect(d.learnedFirstByte).toBe(false);
    expect(d.overdueMs).toBe(Infinity);
  });

  it('timeouts.routes: a route class’s own timeouts apply to its routes only, each key falling back to timeouts.*', () => {
    const c = defaultConfig();
    c.timeouts.routes = { chat: { requestTimeoutMs: 300_000, idleTimeoutMs: 90_000 }, embeddings: { requestTimeoutMs: 5_000, firstByteTimeoutMs: 2_000 } };
    const est = new Estimates();
    for (const route of [Route.Chat, Route.Generate, Route.OpenAIChat, Route.OpenAICompletions]) {
      expect(routeClassOf(route)).toBe('chat');
      expect(dispatchDeadlines(c, est, 'a', facts(), false, 0, true, route).timeouts).toEqual({ firstByteMs: 60_000, idleMs: 90_000, totalMs: 300_000 });
    }
    for (const route of [Route.Embed, Route.Embeddings, Route.OpenAIEmbeddings]) {
      expect(routeClassOf(route)).toBe('embeddings');
      // An embedding is never streamed: the whole answer is due within its request timeout.
      expect(dispatchDeadlines(c, est, 'a', facts({ stream: false }), false, 0, false, route).timeouts).toEqual({ firstByteMs: 5_000, idleMs: 30_000, totalMs: 5_000 });
      expect(dispatchDeadlines(c, est, 'a', facts(), false, 0, true, route).timeouts).toEqual({ firstByteMs: 2_000, idleMs: 30_000, totalMs: 5_000 });
    }
    // Without a route (or with none configured for its class) the timeouts of every route apply.
    expect(dispatchDeadlines(c, est, 'a', facts(), false, 0).timeouts).toEqual({ firstByteMs: 60_000, idleMs: 30_000, totalMs: 120_000 });
    expect(dispatchDeadlines(cfg, est, 'a', facts(), false, 0, true, Route.Embed).timeouts).toEqual({ firstByteMs: 60_000, idleMs: 30_000, totalMs: 120_000 });
  });

  it('learns a stream first byte: factor × the larger of the seen hot first byte and this prompt’s prefill, plus the margin', () => {
    const est = new Estimates();
    est.recordCompletion('a', 'm:latest', stats(), { ttftMs: 150, latencyMs: 1_200, hotStream: true });
    // seen 150 ms; this prompt: 100 tokens at 1000/s + one 20 ms token = 120 ms → 150 wins.
    expect(dispatchDeadlines(cfg, est, 'a', facts(), false, 0).timeouts.firstByteMs).toBe(2 * 150 + 500);
    // A long prompt: 2000 tokens → 2000 + 20 ms of prefill.
    expect(dispatchDeadlines(cfg, est, 'a', facts({ promptTokens: 2_000 }), false, 0).timeouts.firstByteMs).toBe(2 * 2_020 + 500);
    // Another node with nothing learned of its own takes the pool's figures for the model.
    expect(dispatchDeadlines(cfg, est, 'b', facts(), false, 0).learnedFirstByte).toBe(true);
  });

  it('a cold target keeps the fixed timeout until a load of the model was seen, then adds the learned load', () => {
    const est = new Estimates();
    est.recordCompletion('a', 'm:latest', stats(), { ttftMs: 150, latencyMs: 1_200, hotStream: true });
    expect(dispatchDeadlines(cfg, est, 'a', facts(), true, 0).learnedFirstByte).toBe(false);
    est.recordCompletion('a', 'm:latest', stats(3_000), { ttftMs: 3_150, latencyMs: 4_200, hotStream: false });
    expect(dispatchDeadlines(cfg, est, 'a', facts(), true, 0).timeouts.firstByteMs).toBe(2 * (150 + 3_000) + 500);
  });

  it('a stream stalls after stallFactor learned token gaps, never under minStallMs, never over the idle timeout', () => {
    const est = new Estimates();
    est.recordCompletion('a', 'm:latest', stats(), { ttftMs: 150, latencyMs: 1_200, hotStream: true });
    // 50 tok/s → 20 ms gaps × 50 = 1 s, under the 2 s floor.
    expect(dispatchDeadlines(cfg, est, 'a', facts(), false, 0).timeouts.idleMs).toBe(2_000);
    const slow = { ...cfg, failover: { ...cfg.failover, stallFactor: 400 } };
    expect(dispatchDeadlines(slow, est, 'a', facts(), false, 0).timeouts.idleMs).toBe(8_000);
    const capped = { ...cfg, timeouts: { ...cfg.timeouts, idleTimeoutMs: 5_000 }, failover: { ...cfg.failover, stallFactor: 400 } };
    expect(dispatchDeadlines(capped, est, 'a', facts(), false, 0).timeouts.idleMs).toBe(5_000);
  });

  it('a non-streamed request has no first-byte deadline, and is overdue at factor × its expected service plus the margin', () => {
    const est = new Estimates();
    const d0 = dispatchDeadlines(cfg, est, 'a', facts({ stream: false, outputTokens: 50 }), false, 0);
    expect(d0.overdueMs).toBe(Infinity);
    est.recordCompletion('a', 'm:latest', stats(), { ttftMs: 1_200, latencyMs: 1_200 });
    const d = dispatchDeadlines(cfg, est, 'a', facts({ stream: false, outputTokens: 50 }), false, 0);
    expect(d.timeouts.firstByteMs).toBe(d.timeouts.totalMs);
    // 100 ms prefill + 50 tokens at 50/s.
    expect(d.overdueMs).toBeCloseTo(2 * 1_100 + 500);
  });

  it('a request that offers tools keeps the fixed deadlines: Ollama sends nothing while it generates a tool call', () => {
    const est = new Estimates();
    est.recordCompletion('a', 'm:latest', stats(), { ttftMs: 150, latencyMs: 1_200, hotStream: true });
    const d = dispatchDeadlines(cfg, est, 'a', facts({ tools: true }), false, 0);
    expect(d.timeouts).toEqual({ firstByteMs: 60_000, idleMs: 30_000, totalMs: 120_000 });
    expect([d.learnedFirstByte, d.learnedStall]).toEqual([false, false]);
  });

  it('a learned deadline cut short by the request’s remaining time is not a learned one (its miss says nothing of the node)', () => {
    const est = new Estimates();
    est.recordCompletion('a', 'm:latest', stats(), { ttftMs: 150, latencyMs: 1_200, hotStream: true });
    expect(dispatchDeadlines(cfg, est, 'a', facts(), false, 0).learnedFirstByte).toBe(true);
    // A long prompt's learned deadline (2 × 2020 + 500 ms) is past the 1 s the request has left.
    const late = dispatchDeadlines(cfg, est, 'a', facts({ promptTokens: 2_000 }), false, cfg.timeouts.requestTimeoutMs - 500);
    expect(late.timeouts.firstByteMs).toBe(1_000);
    expect(late.learnedFirstByte).toBe(false);
  });

  it('never exceeds the fixed bounds, and with failover.adaptive off ignores what was learned', () => {
    const est = new Estimates();
    est.recordCompletion('a', 'm:latest', stats(), { ttftMs: 150, latencyMs: 1_200, hotStream: true });
    const tight = { ...cfg, timeouts: { ...cfg.timeouts, firstByteTimeoutMs: 400 } };
    expect(dispatchDeadlines(tight, est, 'a', facts(), false, 0).timeouts.firstByteMs).toBe(400);
    const off = { ...cfg, failover: { ...cfg.failover, adaptive: false } };
    expect(dispatchDeadlines(off, est, 'a', facts(), false, 0).timeouts).toEqual({ firstByteMs: 60_000, idleMs: 30_000, totalMs: 120_000 });
    // Time already spent shortens the whole-request budget.
    expect(dispatchDeadlines(off, est, 'a', facts(), false, 20_000).timeouts.totalMs).toBe(100_000);
  });
});

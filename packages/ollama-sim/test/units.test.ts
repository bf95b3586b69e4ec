/** The small pure pieces: Go durations and timestamps, model names, text and the ticker. */
import { FOREVER_MS, Ticker, countTokens, embedding, parseGoDuration, parseKeepAlive, type TickTask } from '@ollama-ring/ollama-sim';
import { rfc3339Local, rfc3339Utc } from '../src/durations';
import { FifoSemaphore } from '../src/semaphore';
import { planOutput } from '../src/text';

describe('Go durations', () => {
  it.each([
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['250ms', 250],
    ['0', 0],
    ['-1m', -60_000],
    ['10us', 0.01],
  ])('parses %s', (text, ms) => expect(parseGoDuration(text)).toBeCloseTo(ms, 9));

  it.each([
    ['3600', 'time: missing unit in duration "3600"'],
    ['5x', 'time: unknown unit "x" in duration "5x"'],
    ['', 'time: invalid duration ""'],
    ['m', 'time: invalid duration "m"'],
  ])('rejects %s', (text, message) => expect(() => parseGoDuration(text)).toThrow(message));

  it('reads keep_alive numbers as seconds and negatives as forever', () => {
    expect(parseKeepAlive(30)).toBe(30_000);
    expect(parseKeepAlive(-1)).toBe(FOREVER_MS);
    expect(parseKeepAlive('-5m')).toBe(FOREVER_MS);
    expect(parseKeepAlive('0s')).toBe(0);
    expect(() => parseKeepAlive([])).toThrow("Unsupported type: '[]interface {}'");
  });

  it('writes RFC3339Nano like Go: fraction trimmed, none when zero', () => {
    expect(rfc3339Utc(Date.UTC(2024, 8, 12, 21, 17, 29, 110))).toBe('2024-09-12T21:17:29.11Z');
    expect(rfc3339Utc(Date.UTC(2024, 8, 12, 21, 17, 29))).toBe('2024-09-12T21:17:29Z');
    expect(rfc3339Utc(Date.UTC(2024, 8, 12, 21, 17, 29, 1) + 0.5)).toBe('2024-09-12T21:17:29.0015Z');
    expect(Date.parse(rfc3339Local(1_700_000_000_123))).toBe(1_700_000_000_123);
  });
});

describe('generated content', () => {
  const base = { seedText: 'm\nhello', seed: 1, minTokens: 10, maxTokens: 30, limit: Infinity, think: false };

  it('is deterministic for a seed and differs across seeds', () => {
    const a = planOutput(base);
    expect(planOutput(base)).toEqual(a);
    expect(planOutput({ ...base, seed: 2 }).pieces).not.toEqual(a.pieces);
    expect(a.pieces.length).toBeGreaterThanOrEqual(10);
    expect(a.pieces.length).toBeLessThanOrEqual(30);
    expect(a.doneReason).toBe('stop');
  });

  it('honours a limit, stop strings, thinking, JSON formats and tools', () => {
    const limited = planOutput({ ...base, limit: 4 });
    expect(limited).toMatchObject({ doneReason: 'length' });
    expect(limited.pieces).toHaveLength(4);

    const full = planOutput(base)
      .pieces.map((p) => p.text)
      .join('');
    const stopWord = full.split(' ')[3];
    const stopped = planOutput({ ...base, stop: [` ${stopWord}`] })
      .pieces.map((p) => p.text)
      .join('');
    expect(stopped).toBe(full.slice(0, full.indexOf(` ${stopWord}`)));

    const thought = planOutput({ ...base, think: true });
    const firstContent = thought.pieces.findIndex((p) => !p.thinking);
    expect(firstContent).toBeGreaterThan(0);
    expect(thought.pieces.slice(firstContent).every((p) => !p.thinking)).toBe(true);

    const json = planOutput({ ...base, format: { type: 'object', properties: { n: { type: 'integer' }, ok: { type: 'boolean' } } } });
    const parsed = JSON.parse(json.pieces.map((p) => p.text).join('')) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['n', 'ok']);
    expect(typeof parsed.n).toBe('number');

    const tool = planOutput({ ...base, tools: [{ name: 'f', parameters: { properties: { a: { type: 'number' } }, required: ['a'] } }] });
    expect(tool.toolCalls[0].function).toMatchObject({ index: 0, name: 'f' });
    expect(typeof tool.toolCalls[0].function.arguments.a).toBe('number');
    expect(tool.toolTokens).toBeGreaterThan(0);
  });

  it('counts about four characters a token', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('abcdefgh')).toBe(2);
    expect(countTokens('abcdefghi')).toBe(3);
  });

  it('makes unit vectors that depend on model and text', () => {
    const v = embedding('m', 'hello', 32, true);
    expect(Math.hypot(...v)).toBeCloseTo(1, 12);
    expect(embedding('m', 'hello', 32, true)).toEqual(v);
    expect(embedding('other', 'hello', 32, true)).not.toEqual(v);
  });
});

describe('Ticker', () => {
  const task = (log: string[], name: string): TickTask => ({ tickDue: 0, tickIndex: -1, onTick: () => log.push(name) });

  it('runs tasks in due order, never early, and drops cancelled ones', async () => {
    const t = new Ticker();
    const log: string[] = [];
    const now = t.now();
    const tasks = ['c', 'a', 'b', 'x'].map((n) => task(log, n));
    const dueAt: Record<string, number> = { a: 10, b: 20, c: 30, x: 15 };
    const seen: Record<string, number> = {};
    for (const k of tasks) {
      const name = ['c', 'a', 'b', 'x'][tasks.indexOf(k)];
      k.onTick = (at) => {
        log.push(name);
        seen[name] = at;
      };
      t.schedule(k, now + dueAt[name]);
    }
    t.cancel(tasks[3]);
    expect(t.size).toBe(3);
    await new Promise((r) => setTimeout(r, 60));
    expect(log).toEqual(['a', 'b', 'c']);
    for (const n of ['a', 'b', 'c']) expect(seen[n] - now).toBeGreaterThanOrEqual(dueAt[n] - 0.25);
    expect(t.size).toBe(0);
  });

  it('keeps heap order through many random inserts and removals', () => {
    const t = new Ticker();
    const tasks: TickTask[] = [];
    for (let i = 0; i < 500; i++) {
      const k: TickTask = { tickDue: 0, tickIndex: -1, onTick: () => undefined };
      tasks.push(k);
      t.schedule(k, 1e9 + ((i * 7919) % 1000));
    }
    for (let i = 0; i < 500; i += 3) t.cancel(tasks[i]);
    // Reach into the heap through its public effects: every remaining index is valid and unique.
    const idx = tasks
      .filter((k) => k.tickIndex >= 0)
      .map((k) => k.tickIndex)
      .sort((a, b) => a - b);
    expect(idx).toEqual(Array.from({ length: t.size }, (_, i) => i));
    for (const k of tasks) t.cancel(k);
    expect(t.size).toBe(0);
  });

  it('sleep resolves after the delay and rejects on abort', async () => {
    const t = new Ticker();
    const t0 = t.now();
    await t.sleep(20);
    expect(t.now() - t0).toBeGreaterThanOrEqual(19.75);
    const ac = new AbortController();
    const p = t.sleep(10_000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(t.size).toBe(0);
  });
});

describe('FifoSemaphore', () => {
  it('hands slots out first come, first served, and skips a waiter that left', async () => {
    const s = new FifoSemaphore(1);
    await s.acquire();
    const order: string[] = [];
    const gone = new AbortController();
    const a = s.acquire().then(() => order.push('a'));
    const b = s.acquire(gone.signal).then(
      () => order.push('b'),
      () => order.push('b left'),
    );
    const c = s.acquire().then(() => order.push('c'));
    expect(s.waiting).toBe(3);
    gone.abort();
    await b;
    s.release();
    await a;
    s.release();
    await c;
    expect(order).toEqual(['b left', 'a', 'c']);
    expect(s.inUse).toBe(1);
  });
});

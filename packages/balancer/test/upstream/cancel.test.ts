import { Cancel } from '../../src/upstream/cancel';
import { untilSignal } from '../../src/until-signal';

test('abort runs each listener once, in order, with the reason set; later aborts change nothing', () => {
  const c = new Cancel();
  const seen: string[] = [];
  const a = () => seen.push(`a:${String(c.reason)}`);
  const b = () => seen.push('b');
  const gone = () => seen.push('removed');
  c.addEventListener('abort', a);
  c.addEventListener('abort', gone);
  c.addEventListener('abort', b, { once: true });
  c.removeEventListener('abort', gone);
  expect(c.aborted).toBe(false);
  c.abort('first');
  c.abort('second');
  expect(seen).toEqual(['a:first', 'b']);
  expect([c.aborted, c.reason]).toEqual([true, 'first']);
  c.addEventListener('abort', () => seen.push('late')); // as with an AbortSignal: never runs
  c.abort('third');
  expect(seen).toEqual(['a:first', 'b']);
});

test('untilSignal ends a wait on a slow client when the dispatch is cancelled', async () => {
  const c = new Cancel();
  let done = false;
  const never = new Promise<void>(() => undefined);
  const waiting = untilSignal(never, c).then(() => (done = true));
  await Promise.resolve();
  expect(done).toBe(false);
  c.abort(new Error('client gone'));
  await waiting;
  expect(done).toBe(true);
  await expect(untilSignal(never, c)).resolves.toBeUndefined(); // already cancelled: at once
});

/**
 * `Atomics.waitAsync` that keeps the process alive while it is pending.
 *
 * A pending `waitAsync` is not a libuv handle: if nothing else is scheduled, Node exits with the
 * wait unresolved. So a ref'd timer lives exactly as long as the wait, and is cleared when the
 * wait settles; nothing is left behind for `--detectOpenHandles` to find.
 */
export function waitAsyncKeepingAlive(
  words: Int32Array,
  index: number,
  expected: number,
  timeoutMs: number,
): Promise<'ok' | 'not-equal' | 'timed-out'> | 'not-equal' | 'timed-out' {
  const result = Atomics.waitAsync(words, index, expected, timeoutMs);
  if (!result.async) return result.value;
  const keepAlive = setInterval(noop, KEEP_ALIVE_PERIOD_MS);
  return result.value.then((outcome) => {
    clearInterval(keepAlive);
    return outcome;
  });
}

// Any period works: the timer exists only to hold a reference. A long one never fires in practice.
const KEEP_ALIVE_PERIOD_MS = 2 ** 30;

function noop(): void {}

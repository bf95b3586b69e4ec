/**
 * What "yield the CPU" and "sleep a little" mean in JavaScript, where there is no sched_yield.
 * A worker thread blocks on a private word that nobody notifies, with a short or zero timeout:
 * the kernel gets a chance to run something else, and the thread comes back on its own.
 */
const privateWord = new Int32Array(new SharedArrayBuffer(4));

export function yieldThread(): void {
  Atomics.wait(privateWord, 0, 0, 0);
}

export function sleepThread(ms: number): void {
  Atomics.wait(privateWord, 0, 0, ms);
}

/** On the main thread the nearest thing to a yield is one trip round the event loop. */
export function yieldEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function sleepEventLoop(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

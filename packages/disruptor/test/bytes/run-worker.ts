import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

// Worker threads load compiled JS: the fixtures require ../../../dist, which scripts/test builds first.
export const fixture = (name: string): string => join(__dirname, 'fixtures', name);

const live = new Set<Worker>();

/** Starts a fixture worker; `stopAllWorkers` terminates whatever a test left running. */
export function startWorker(name: string, workerData: unknown): Worker {
  const worker = new Worker(fixture(name), { workerData });
  live.add(worker);
  worker.once('exit', () => live.delete(worker));
  return worker;
}

/**
 * The last message a worker posted before it exited (rejects on a worker error). A test that fails
 * before awaiting it must not turn the rejection into an unhandled one, which would kill jest.
 */
export function lastMessage<T>(worker: Worker): Promise<T> {
  const result = new Promise<T>((resolve, reject) => {
    let last: T | undefined;
    worker.on('message', (m: T) => (last = m));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (last !== undefined) resolve(last);
      else reject(new Error(`worker exited with code ${code} and no message`));
    });
  });
  result.catch(() => undefined);
  return result;
}

/** Resolves when the worker has exited. */
export function exited(worker: Worker): Promise<number> {
  return new Promise((resolve) => worker.once('exit', resolve));
}

export async function stopAllWorkers(): Promise<void> {
  await Promise.all([...live].map((w) => w.terminate()));
  live.clear();
}

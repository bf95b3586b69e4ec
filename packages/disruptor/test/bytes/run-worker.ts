import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

// Worker threads load compiled JS: the fixtures require ../../../dist, which scripts/test builds first.
export const fixture = (name: string): string => join(__dirname, 'fixtures', name);

/** A started fixture worker. Its listeners are attached at once, so no early exit or message is missed. */
export interface FixtureWorker {
  readonly worker: Worker;
  /** Resolves with the exit code. */
  readonly exited: Promise<number>;
  /** The last message posted before exit; rejects on a worker error or an exit without any message. */
  readonly lastMessage: Promise<unknown>;
}

const live = new Set<Worker>();

/** Starts a fixture worker; `stopAllWorkers` terminates whatever a test left running. */
export function startWorker(name: string, workerData: unknown): FixtureWorker {
  const worker = new Worker(fixture(name), { workerData });
  live.add(worker);
  let last: unknown;
  let failure: unknown;
  worker.on('message', (m) => (last = m));
  worker.once('error', (e) => (failure = e));
  const exited = new Promise<number>((resolve) =>
    worker.once('exit', (code) => {
      live.delete(worker);
      resolve(code);
    }),
  );
  const lastMessage = exited.then((code) => {
    if (failure !== undefined) throw failure;
    if (last === undefined) throw new Error(`worker exited with code ${code} and no message`);
    return last;
  });
  // A test that fails before awaiting it must not leave an unhandled rejection, which kills jest.
  lastMessage.catch(() => undefined);
  return { worker, exited, lastMessage };
}

export async function stopAllWorkers(): Promise<void> {
  await Promise.all([...live].map((w) => w.terminate()));
  live.clear();
}

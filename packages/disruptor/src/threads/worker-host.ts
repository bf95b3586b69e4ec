import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { WorkerCrashedError } from '../errors';
import type { HandlerWorkerData, WorkerHandlerSpec, WorkerToHost } from './worker-protocol';

/** Where the compiled worker entry lives: beside this file in dist/, or in dist/ when running from src/. */
export function resolveWorkerEntry(file = 'handler-worker.js'): string {
  const candidates = [join(__dirname, file), join(__dirname, '..', '..', 'dist', 'threads', file)];
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new WorkerCrashedError(`worker entry ${file} not found (looked in ${candidates.join(', ')}); build @ollama-ring/disruptor first`);
  }
  return found;
}

export interface WorkerHostEvents {
  /** The thread died without being asked to stop (uncaught error, non-zero exit). */
  onCrash(error: WorkerCrashedError): void;
  /** The handler threw; the processor reported it and went on. */
  onHandlerError(message: string, error: Error): void;
}

/**
 * Spawns and supervises one handler thread. We use raw `worker_threads` rather than piscina here:
 * an event processor is one loop that lives as long as the pipeline, not a stream of tasks, so a
 * task pool has nothing to schedule, and a crashed processor must fail the pipeline (its sequence
 * stops moving) rather than be replaced silently by a fresh thread.
 */
export class WorkerHost {
  readonly name: string;
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private exited: Promise<void> | undefined;
  private stopping = false;

  constructor(
    private readonly spec: WorkerHandlerSpec,
    private readonly data: HandlerWorkerData,
    private readonly events: WorkerHostEvents,
  ) {
    this.name = data.name;
  }

  /** Starts the thread; resolves once the handler is built and its loop is about to run. */
  start(): Promise<void> {
    if (this.ready) return this.ready;
    const worker = new Worker(resolveWorkerEntry(), {
      workerData: this.data,
      resourceLimits: this.spec.resourceLimits,
      name: this.name,
    });
    this.worker = worker;
    let resolveReady!: () => void;
    let rejectReady!: (e: Error) => void;
    this.ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    // A start failure is reported through the promise; keep it from also surfacing as unhandled.
    this.ready.catch(() => undefined);
    let isReady = false;
    let crash: WorkerCrashedError | undefined;
    worker.on('message', (msg: WorkerToHost) => {
      if (msg.type === 'ready') {
        isReady = true;
        resolveReady();
      } else if (msg.type === 'handler-error') {
        const err = new Error(msg.message);
        if (msg.stack) err.stack = msg.stack;
        const where = msg.phase === 'event' ? `on sequence ${msg.sequence}` : `in on${msg.phase[0].toUpperCase()}${msg.phase.slice(1)}`;
        this.events.onHandlerError(`handler '${this.name}' threw ${where}`, err);
      } else if (msg.type === 'user') {
        this.spec.onMessage?.(msg.message);
      }
    });
    worker.on('error', (err) => {
      crash = new WorkerCrashedError(`handler thread '${this.name}' crashed: ${err.message}`, { cause: err });
    });
    this.exited = new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        this.worker = undefined;
        if (!crash && !this.stopping) {
          // Even a clean exit is a crash if nobody asked for it: the stage's sequence stops moving.
          crash = new WorkerCrashedError(code !== 0 ? `handler thread '${this.name}' exited with code ${code}` : `handler thread '${this.name}' stopped unexpectedly`);
        }
        if (crash && !this.stopping) {
          if (!isReady) rejectReady(crash);
          this.events.onCrash(crash);
        } else if (!isReady) {
          rejectReady(crash ?? new WorkerCrashedError(`handler thread '${this.name}' stopped before it was ready`));
        }
        resolve();
      });
    });
    return this.ready;
  }

  /**
   * Waits for the thread to leave its loop (the caller has alerted its barrier), and terminates it
   * if it has not done so within `graceMs` (a handler stuck inside one event).
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    if (!worker || !this.exited) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((r) => {
        timer = setTimeout(() => r(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) await worker.terminate();
    await this.exited;
  }

  /** Kills the thread at once. */
  async terminate(): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    if (worker) await worker.terminate();
    await this.exited;
  }
}

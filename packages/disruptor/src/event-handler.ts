import type { EventView } from './event-view';
import type { RecordSchema } from './record-layout';
import type { Sequence } from './sequence';

/**
 * A stage of the pipeline. `onEvent` runs once per event, in sequence order, on one thread.
 *
 * @example
 * const counter: EventHandler<typeof schema> = { onEvent(e) { total += e.value; } };
 */
export interface EventHandler<S extends RecordSchema = RecordSchema> {
  onEvent(event: EventView<S>, sequence: number, endOfBatch: boolean): void;
  /** Before each batch: how many events it holds, and how many are readable in all. */
  onBatchStart?(batchSize: number, queueDepth: number): void;
  onStart?(): void;
  onShutdown?(): void;
  /** With a timeout wait strategy: nothing arrived for a whole period. */
  onTimeout?(sequence: number): void;
  /**
   * When present, the processor hands over its sequence and stops advancing it itself: the
   * handler sets it (to the last sequence it has finished with) whenever it is done, which lets
   * asynchronous work hold its slots until it completes. Upstream gating then waits for the handler.
   */
  setSequenceCallback?(sequence: Sequence): void;
}

/** A handler in a work pool: each event goes to exactly one of the pool's handlers. */
export interface WorkHandler<S extends RecordSchema = RecordSchema> {
  onEvent(event: EventView<S>, sequence: number): void;
  onStart?(): void;
  onShutdown?(): void;
}

/** Decides what an exception thrown by a handler does. */
export interface ExceptionHandler {
  /** Return normally to skip the event and go on; throw to halt the processor. */
  handleEventException(error: unknown, sequence: number, event: unknown): void;
  handleOnStartException(error: unknown): void;
  handleOnShutdownException(error: unknown): void;
}

/** The default: report the error and move on. One bad event never stops the pipeline. */
export class ReportAndContinueExceptionHandler implements ExceptionHandler {
  constructor(private readonly report: (message: string, error: unknown) => void = reportHandlerError) {}
  handleEventException(error: unknown, sequence: number, event: unknown): void {
    const detail = describeEvent(event);
    this.report(`handler threw on sequence ${sequence}${detail ? ` ${detail}` : ''}`, error);
  }
  handleOnStartException(error: unknown): void {
    this.report('handler threw in onStart', error);
  }
  handleOnShutdownException(error: unknown): void {
    this.report('handler threw in onShutdown', error);
  }
}

/** Report, then halt the processor that hit the error. */
export class HaltingExceptionHandler extends ReportAndContinueExceptionHandler {
  override handleEventException(error: unknown, sequence: number, event: unknown): void {
    super.handleEventException(error, sequence, event);
    throw error;
  }
}

/** The default report for handler errors: a process warning with code OLLAMA_RING_HANDLER_ERROR. */
export function reportHandlerError(message: string, error: unknown): void {
  process.emitWarning(`${message}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, {
    code: 'OLLAMA_RING_HANDLER_ERROR',
  });
}

function describeEvent(event: unknown): string {
  const json = (event as { toJSON?: () => unknown } | null)?.toJSON;
  try {
    return typeof json === 'function' ? JSON.stringify(json.call(event)) : '';
  } catch {
    return '';
  }
}

/**
 * Calls a handler's `onStart` or `onShutdown`, if it has one, sending what it throws to the
 * exception handler: a failing hook is reported and never stops the processor's loop from running
 * or ending.
 */
export function runLifecycleHook(handler: { onStart?(): void; onShutdown?(): void }, hook: 'onStart' | 'onShutdown', exceptionHandler: ExceptionHandler): void {
  const fn = handler[hook];
  if (!fn) return;
  try {
    fn.call(handler);
  } catch (err) {
    if (hook === 'onStart') exceptionHandler.handleOnStartException(err);
    else exceptionHandler.handleOnShutdownException(err);
  }
}

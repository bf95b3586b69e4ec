/**
 * Typed errors of the engine. Each class carries a stable `code` and a `Symbol.for` brand, so that
 * `instanceof` still works when two copies of this package are loaded (a worker bundle and the
 * main thread's copy, or two versions under different node_modules folders).
 */

const kCodes = Symbol.for('@ollama-ring/error-codes');

type Branded = { [kCodes]?: ReadonlySet<string> };

/**
 * An Error with a stable, machine-readable `code`, whose `instanceof` tests a brand rather than class
 * identity. Generic: any package can base its own error family on it (the engine's is
 * {@link DisruptorError}); each subclass sets `static brand` to its own code.
 *
 * @example
 * class MyError extends BrandedError { static override brand = 'ERR_MINE'; constructor() { super(MyError.brand, 'mine'); } }
 */
export class BrandedError extends Error {
  /** A stable, machine-readable identifier such as `ERR_INSUFFICIENT_CAPACITY`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    // Record every code along the prototype chain so that `instanceof` can test by brand.
    const codes = new Set<string>();
    for (let c: unknown = new.target; c && c !== Error; c = Object.getPrototypeOf(c)) {
      const code = (c as { brand?: string }).brand;
      if (code) codes.add(code);
    }
    Object.defineProperty(this, kCodes, { value: codes, enumerable: false });
  }

  /** The brand that `instanceof` looks for; subclasses override it with their own code. */
  static brand = 'ERR_BRANDED';

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    const codes = (value as Branded)[kCodes];
    return codes instanceof Set ? codes.has((this as unknown as { brand: string }).brand) : false;
  }
}

/**
 * Base class of every engine error. Subclasses pass their own stable `code`.
 *
 * @example
 * try { sequencer.tryNext(); } catch (e) { if (e instanceof InsufficientCapacityError) shed(); }
 */
export class DisruptorError extends BrandedError {
  static override brand = 'ERR_DISRUPTOR';
}

/** Thrown by `tryNext(n)` when the ring has fewer than `n` free slots. The caller sheds load. */
export class InsufficientCapacityError extends DisruptorError {
  static override brand = 'ERR_INSUFFICIENT_CAPACITY';
  constructor(message = 'ring buffer has insufficient capacity') {
    super(InsufficientCapacityError.brand, message);
  }
}

/** Raised inside a sequence barrier's wait when the barrier has been alerted (shutdown). */
export class AlertError extends DisruptorError {
  static override brand = 'ERR_ALERTED';
  constructor(message = 'sequence barrier alerted') {
    super(AlertError.brand, message);
  }
}

/** Raised by a timeout wait strategy when nothing arrived within its period. */
export class WaitTimeoutError extends DisruptorError {
  static override brand = 'ERR_WAIT_TIMEOUT';
  constructor(message = 'wait strategy timed out') {
    super(WaitTimeoutError.brand, message);
  }
}

/** A caller broke the engine's contract: bad sizes, a second start, a handler added after start. */
export class IllegalStateError extends DisruptorError {
  static override brand = 'ERR_ILLEGAL_STATE';
  constructor(message: string) {
    super(IllegalStateError.brand, message);
  }
}

/** An argument is out of range: a ring size that is not a power of two, a record that is too large. */
export class InvalidArgumentError extends DisruptorError {
  static override brand = 'ERR_INVALID_ARGUMENT';
  constructor(message: string) {
    super(InvalidArgumentError.brand, message);
  }
}

/** A handler thread died or could not start. The pipeline that owns it halts and reports this. */
export class WorkerCrashedError extends DisruptorError {
  static override brand = 'ERR_WORKER_CRASHED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(WorkerCrashedError.brand, message, options);
  }
}

/** `shutdown(timeoutMs)` could not drain in time; the engine halted without draining. */
export class ShutdownTimeoutError extends DisruptorError {
  static override brand = 'ERR_SHUTDOWN_TIMEOUT';
  constructor(message: string) {
    super(ShutdownTimeoutError.brand, message);
  }
}

/**
 * A byte arena has no free run long enough for the request right now. Space comes back as
 * consumers free their payloads, so the caller sheds load (HTTP 503 with Retry-After) and never waits.
 *
 * @example
 * try { arena.alloc(body.length); } catch (e) { if (e instanceof ArenaFullError) reply503(); }
 */
export class ArenaFullError extends DisruptorError {
  static override brand = 'ERR_ARENA_FULL';
  constructor(message = 'byte arena is full') {
    super(ArenaFullError.brand, message);
  }
}

/**
 * A payload is larger than the transport could ever hold (the whole arena, or a byte ring's
 * capacity), so waiting would not help. The HTTP front maps it to 413.
 *
 * @example
 * if (e instanceof PayloadTooLargeError) reply413();
 */
export class PayloadTooLargeError extends DisruptorError {
  static override brand = 'ERR_PAYLOAD_TOO_LARGE';
  constructor(message: string) {
    super(PayloadTooLargeError.brand, message);
  }
}

/**
 * The other end of a byte stream has gone: the reader cancelled (its client disconnected) while the
 * writer still had data, or someone wrote after `close()`. The writer stops and aborts its upstream.
 *
 * @example
 * try { await writer.write(chunk); } catch (e) { if (e instanceof StreamClosedError) upstream.abort(); }
 */
export class StreamClosedError extends DisruptorError {
  static override brand = 'ERR_STREAM_CLOSED';
  constructor(message: string) {
    super(StreamClosedError.brand, message);
  }
}

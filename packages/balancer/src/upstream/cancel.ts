/**
 * What dispatch reads of its abort: a structural subset of `AbortSignal`, so that either fits (a
 * caller's own signal, or a {@link Cancel}).
 */
export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * A dispatch's abort handle: what an `AbortController` gave dispatch, without an `EventTarget` and
 * an `AbortSignal` per request (the CPU profile of the gateway under load put their creation and
 * listener bookkeeping at about 2 % of its busy time). Listeners run once, in order, on the first
 * `abort`; one added after it never runs, as with an `AbortSignal`.
 */
export class Cancel implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] | undefined;

  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners) for (const l of listeners) l();
  }

  addEventListener(_type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (!this.aborted) (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const listeners = this.listeners;
    if (!listeners) return;
    const i = listeners.indexOf(listener);
    if (i !== -1) listeners.splice(i, 1);
  }
}

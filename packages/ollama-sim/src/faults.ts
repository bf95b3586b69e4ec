/**
 * A node's fault settings and their consumption. Faults with a `count` are used up one request at a
 * time; faults without one stay until cleared. A generation takes its faults when it starts, so the
 * "next N" requests are exactly the ones affected even when many run at once.
 */
import type { SimFaults } from './config-types';

/** What a starting generation must do to itself. */
export interface StreamFaults {
  /** Send a final error line after this many tokens. */
  errorAfter?: { tokens: number; message: string };
  /** Destroy the socket after this many tokens. */
  closeAfter?: number;
  /** Stop producing (hold the slot, keep the socket open) after this many tokens. */
  hangAfter?: number;
}

/** A patch as `/_sim/faults` accepts it: a key set to null clears that fault. */
export type FaultPatch = { [K in keyof SimFaults]?: SimFaults[K] | null };

const DEFAULT_ERROR = 'an error was encountered while running the model';
const DEFAULT_LOAD_ERROR = 'llama runner process has terminated: exit status 2';

function matches(paths: string[] | undefined, path: string): boolean {
  if (!paths || paths.length === 0) return true;
  return paths.some((p) => path === p || (path.startsWith(p) && (p.endsWith('/') || path[p.length] === '/')));
}

/** Default message for a failed request with this status, in Ollama's wording where it has one. */
function defaultFailureMessage(status: number): string {
  if (status === 503) return 'server busy, please try again.  maximum pending requests exceeded';
  if (status === 404) return 'not found';
  if (status === 429) return 'too many requests';
  return 'simulated failure';
}

export class FaultState {
  private faults: SimFaults;
  /** Faults actually applied to requests, by kind (for `/_sim/state`). */
  readonly injected: Record<string, number> = {};

  constructor(initial: SimFaults = {}) {
    this.faults = structuredClone(initial);
  }

  /** A copy of the current settings. */
  get(): SimFaults {
    return structuredClone(this.faults);
  }

  /** Merges a patch: keys present replace, keys set to null clear. */
  apply(patch: FaultPatch): SimFaults {
    const next = { ...this.faults } as Record<string, unknown>;
    for (const [k, v] of Object.entries(patch)) {
      if (v === null || v === undefined) delete next[k];
      else next[k] = structuredClone(v);
    }
    this.faults = next as SimFaults;
    return this.get();
  }

  clear(): void {
    this.faults = {};
  }

  get slowdown(): number {
    return this.faults.slowdown ?? 1;
  }

  get tagsOverride(): string[] | undefined {
    return this.faults.tagsOverride;
  }

  get psOverride(): string[] | undefined {
    return this.faults.psOverride;
  }

  private count(kind: string): void {
    this.injected[kind] = (this.injected[kind] ?? 0) + 1;
  }

  /** `failNext`: the status and message to fail this request with, if it is one of the next N. */
  takeFailure(path: string): { status: number; message: string } | undefined {
    const f = this.faults.failNext;
    if (!f || !matches(f.paths, path)) return undefined;
    const remaining = f.count ?? 1;
    if (remaining <= 0) return undefined;
    if (remaining <= 1) delete this.faults.failNext;
    else f.count = remaining - 1;
    this.count('failNext');
    return { status: f.status, message: f.message ?? defaultFailureMessage(f.status) };
  }

  /** `hang` without `afterTokens`: whether to swallow this request entirely. */
  takeHang(path: string): boolean {
    const f = this.faults.hang;
    if (!f || f.afterTokens !== undefined || !matches(f.paths, path)) return false;
    if (!this.use(f, 'hang')) return false;
    this.count('hang');
    return true;
  }

  /** The faults a generation starting now must apply. */
  takeStreamFaults(path: string): StreamFaults {
    const out: StreamFaults = {};
    const e = this.faults.errorMidStream;
    if (e && this.use(e, 'errorMidStream')) {
      out.errorAfter = { tokens: e.afterTokens, message: e.message ?? DEFAULT_ERROR };
      this.count('errorMidStream');
    }
    const c = this.faults.closeMidStream;
    if (c && this.use(c, 'closeMidStream')) {
      out.closeAfter = c.afterTokens;
      this.count('closeMidStream');
    }
    const h = this.faults.hang;
    if (h && h.afterTokens !== undefined && matches(h.paths, path) && this.use(h, 'hang')) {
      out.hangAfter = h.afterTokens;
      this.count('hang');
    }
    return out;
  }

  /** `failLoad`: the error a model load must fail with, if any. */
  takeLoadFailure(): string | undefined {
    const f = this.faults.failLoad;
    if (!f || !this.use(f, 'failLoad')) return undefined;
    this.count('failLoad');
    return f.message ?? DEFAULT_LOAD_ERROR;
  }

  /** Consumes one use of a counted fault; uncounted faults always apply. */
  private use(f: { count?: number }, key: keyof SimFaults): boolean {
    if (f.count === undefined) return true;
    if (f.count <= 0) return false;
    f.count -= 1;
    if (f.count === 0) delete this.faults[key];
    return true;
  }
}

/**
 * The demo's traffic: a few simulated users, each sending a request, reading the answer and
 * pausing, plus a burst in the middle, all through the gateway with the official `ollama` client,
 * exactly as an application would.
 */
import type { Ollama } from 'ollama';
import { ollamaPackage } from '../commands/optional-deps';
import { BURST_MIX, nextRequest, type RequestSpec } from './mix';
import { type Rng, seededRng } from './random';
import { sleepUnless } from '@ollama-ring/balancer';

export interface RequestResult {
  spec: RequestSpec;
  ok: boolean;
  /** Cut off because the run ended (not counted as a failure). */
  cutOff: boolean;
  error?: string;
  /** The node that served it (`X-Ollama-Ring-Node`). */
  node?: string;
  /** Time the gateway held it before a slot was free (`X-Ollama-Ring-Queue-Ms`). */
  queueMs?: number;
  /** Time to the first content chunk, for streamed requests. */
  ttftMs?: number;
  latencyMs: number;
  /** Generated tokens (`eval_count`). */
  tokens: number;
  burst: boolean;
}

export interface WorkloadOptions {
  /** The gateway's base URL. */
  url: string;
  durationMs: number;
  /** Concurrent users in the steady state. */
  users: number;
  /** Requests fired at once in the middle of the run. */
  burstSize: number;
  /** When the burst fires, from the start (default 45% of the duration). */
  burstAtMs?: number;
  seed: number;
  /** After the run, how long in-flight requests may finish before they are cut off. */
  drainMs: number;
}

export class Workload {
  readonly results: RequestResult[] = [];
  /** Requests sent and not yet answered in full. */
  inFlight = 0;
  sent = 0;
  /** Burst requests still running. */
  burstInFlight = 0;
  private readonly rng: Rng;
  private readonly cutOff = new AbortController();
  private readonly stopping = new AbortController();

  constructor(private readonly opts: WorkloadOptions) {
    this.rng = seededRng(opts.seed);
  }

  /** Runs for the duration (or until `stop()`), then drains; never rejects. */
  async run(): Promise<void> {
    const running: Promise<void>[] = [];
    for (let i = 0; i < this.opts.users; i++) running.push(this.user(i));
    const burstAt = this.opts.burstAtMs ?? this.opts.durationMs * 0.45;
    const burstTimer = setTimeout(() => {
      for (let i = 0; i < this.opts.burstSize; i++) running.push(this.burstOne());
    }, burstAt);
    await sleepUnless(this.opts.durationMs, this.stopping.signal);
    clearTimeout(burstTimer);
    this.stop();
    const all = Promise.all(running).then(() => undefined);
    const drainTimer = new Promise<void>((r) => setTimeout(r, this.opts.drainMs).unref());
    await Promise.race([all, drainTimer]);
    this.cutOff.abort();
    await all;
  }

  /** Sends nothing new from now on; what is in flight may finish. */
  stop(): void {
    this.stopping.abort();
  }

  get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private async user(i: number): Promise<void> {
    // Users arrive over the first second rather than all at the same instant.
    await sleepUnless(i * 150, this.stopping.signal);
    while (!this.stopped) {
      await this.send(nextRequest(this.rng), false);
      // Think time: reading the answer, typing the next question.
      await sleepUnless(100 + this.rng() * 500, this.stopping.signal);
    }
  }

  private async burstOne(): Promise<void> {
    if (this.stopped) return;
    this.burstInFlight++;
    try {
      await this.send(nextRequest(this.rng, BURST_MIX), true);
    } finally {
      this.burstInFlight--;
    }
  }

  private async send(spec: RequestSpec, burst: boolean): Promise<void> {
    this.sent++;
    this.inFlight++;
    const t0 = performance.now();
    let headers: Headers | undefined;
    const cut = this.cutOff.signal;
    // A client per request: its fetch sees this request's response headers (node, queue time),
    // which the ollama client does not expose, and aborts when the run is cut off.
    const client = new (ollamaPackage().Ollama)({
      host: this.opts.url,
      fetch: async (input, init) => {
        const res = await fetch(input, { ...init, signal: init?.signal ? AbortSignal.any([init.signal, cut]) : cut });
        headers = res.headers;
        return res;
      },
    });
    const r: RequestResult = { spec, ok: false, cutOff: false, latencyMs: 0, tokens: 0, burst };
    try {
      const out = await this.call(client, spec, t0);
      r.ok = true;
      r.tokens = out.tokens;
      r.ttftMs = out.ttftMs;
    } catch (e) {
      r.cutOff = cut.aborted;
      r.error = (e as Error).message || String(e);
    } finally {
      this.inFlight--;
      r.latencyMs = performance.now() - t0;
      r.node = headers?.get('x-ollama-ring-node') ?? undefined;
      const q = headers?.get('x-ollama-ring-queue-ms');
      if (q) r.queueMs = Number(q);
      this.results.push(r);
    }
  }

  private async call(client: Ollama, spec: RequestSpec, t0: number): Promise<{ tokens: number; ttftMs?: number }> {
    const options = spec.numCtx ? { num_ctx: spec.numCtx } : undefined;
    if (spec.kind === 'embed') {
      await client.embed({ model: spec.model, input: spec.prompt, options });
      return { tokens: 0 };
    }
    if (spec.kind === 'chat') {
      const messages = [{ role: 'user', content: spec.prompt }];
      if (!spec.stream) return { tokens: (await client.chat({ model: spec.model, messages, options, stream: false })).eval_count ?? 0 };
      let ttftMs: number | undefined;
      let tokens = 0;
      for await (const part of await client.chat({ model: spec.model, messages, options, stream: true })) {
        if (ttftMs === undefined && (part.message.content || part.done)) ttftMs = performance.now() - t0;
        if (part.done) tokens = part.eval_count ?? 0;
      }
      return { tokens, ttftMs };
    }
    if (!spec.stream) return { tokens: (await client.generate({ model: spec.model, prompt: spec.prompt, options, stream: false })).eval_count ?? 0 };
    let ttftMs: number | undefined;
    let tokens = 0;
    for await (const part of await client.generate({ model: spec.model, prompt: spec.prompt, options, stream: true })) {
      if (ttftMs === undefined && (part.response || part.done)) ttftMs = performance.now() - t0;
      if (part.done) tokens = part.eval_count ?? 0;
    }
    return { tokens, ttftMs };
  }
}

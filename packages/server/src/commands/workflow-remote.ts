/**
 * `ollama-ring workflow … --url`: a gateway's workflow API as a client (start, poll, cancel), and
 * its model list for `validate`.
 */
import { normalizeModel } from '@ollama-ring/protocol';
import { type ConfigIssue, type ModelCatalog, type RunResults, WorkflowError } from '@ollama-ring/balancer';
import { GatewayCallError } from './batch-remote';

/** A run as the gateway answers it. */
export type RemoteRun = RunResults & { id: string };

export class WorkflowClient {
  constructor(
    readonly base: string,
    private readonly apiKey: string | undefined,
    private readonly timeoutMs = 30_000,
  ) {}

  start(body: Record<string, unknown>): Promise<RemoteRun> {
    return this.call('POST', '/api/workflows', body);
  }

  get(id: string): Promise<RemoteRun> {
    return this.call('GET', `/api/workflows/${encodeURIComponent(id)}`);
  }

  /** Cancels; a run that has already ended is not an error. */
  async cancel(id: string): Promise<void> {
    await this.call('DELETE', `/api/workflows/${encodeURIComponent(id)}`, undefined, [409]);
  }

  /** The gateway's models (merged over its nodes), for the model check. */
  async catalog(): Promise<ModelCatalog> {
    const tags = await this.call<{ models?: { name?: string; model?: string }[] }>('GET', '/api/tags');
    const names = new Set(
      (tags.models ?? [])
        .flatMap((m) => [m.name, m.model])
        .filter((n): n is string => typeof n === 'string')
        .map(normalizeModel),
    );
    return { hasModel: (m) => names.has(normalizeModel(m)), describe: `the gateway at ${this.base}` };
  }

  private async call<T>(method: string, path: string, body?: unknown, okStatuses: number[] = []): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      const err = e as { name?: string; message?: string; cause?: { code?: string } };
      const why = err.name === 'TimeoutError' ? 'no answer in time' : (err.cause?.code ?? err.message ?? String(e));
      throw new GatewayCallError(`cannot reach the gateway at ${this.base}: ${why} (is \`ollama-ring serve\` running there? --url sets the address)`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok && !okStatuses.includes(res.status)) {
      const e = json as { error?: string | { message?: string }; code?: string; issues?: ConfigIssue[] } | undefined;
      // The gateway found errors in the workflow: the same error as a check here would give.
      if (e?.code === WorkflowError.brand && typeof e.error === 'string') throw new WorkflowError(e.error.split(':\n')[0], e.issues ?? []);
      const message = typeof e?.error === 'string' ? e.error : (e?.error?.message ?? text.slice(0, 300));
      throw new GatewayCallError(`${method} ${path} answered ${res.status}: ${message}`);
    }
    return json as T;
  }
}

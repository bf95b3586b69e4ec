import type { OperationDoc } from './operation-types';

const page = (summary: string, ok: OperationDoc['ok'], more: Partial<OperationDoc> = {}): OperationDoc => ({ summary, tag: 'Status', access: 'open', errors: 'text', ok, ...more });

/** The live dashboard (`dashboard-routes.ts`, `docs/dashboard.md`). */
export const DASHBOARD_OPERATIONS: Readonly<Record<string, Partial<Record<'get' | 'post', OperationDoc>>>> = {
  '/dashboard': {
    get: page(
      'The live dashboard (a web page)',
      { 200: { description: 'An HTML page; it holds none of the pool’s data', schema: { type: 'string' }, types: ['text/html'] } },
      {
        description:
          'The pool live: nodes, resident models, the queue, the last minutes as charts, batch jobs; admin actions with the admin token. No CDN: its files come from the gateway.',
      },
    ),
  },
  '/dashboard/assets/:asset': {
    get: page(
      "The dashboard page's scripts and styles (its own and uPlot's)",
      {
        200: { description: 'The file, cached for a day (ETag)', schema: { type: 'string' }, types: ['text/javascript', 'text/css'] },
        304: { description: 'Not modified' },
      },
      { failures: { 404: 'No such asset' } },
    ),
  },
  '/dashboard/session': {
    post: {
      summary: 'Trade the API key for the cookie the dashboard’s event stream is read with',
      description:
        'A browser’s EventSource cannot send an Authorization header: the page sends the key here once, and gets `ollama_ring_dashboard` (HttpOnly, SameSite=Strict, Path=/dashboard), an HMAC of the key that is valid until the gateway restarts or the key is dropped. It grants reading the dashboard, nothing else. Without API keys configured nothing is set.',
      tag: 'Status',
      access: 'client',
      ok: { 204: { description: 'The cookie is set (with keys configured)' } },
    },
  },
  '/dashboard/events': {
    get: {
      summary: 'The pool live, as Server-Sent Events',
      description:
        'Event `init` first (`{strategies, tickMs, history, snapshot}`: the per-second samples of the last minutes and the pool now), then `tick` each second (a snapshot: nodes with health, breaker, slots, resident models and rates; the queue by model and class; batch jobs; the second’s sample: requests, TTFT and queue-wait p50/p99, cold loads, errors by kind). One snapshot is taken per tick for every page. With API keys configured it needs the `/dashboard/session` cookie or a key in the headers.',
      tag: 'Status',
      access: 'client',
      ok: { 200: { description: 'An event stream that stays open', schema: { type: 'string' }, types: ['text/event-stream'] } },
      failures: { 503: 'Too many dashboards open, or the gateway is closing' },
    },
  },
};

import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { GatewayContext } from '../gateway-context';
import { dashboardFor } from '../dashboard/feed';
import { presentedKey } from './auth';
import { sendError } from './errors';
import { requireClient } from './route-util';
import type { Router } from './router';
import { ASSET_CACHE, FileCache, PAGE_CACHE, type Served, sendNoAsset, sendServed, served } from './static-files';

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/**
 * The page's files, by the name served under `/dashboard/assets/`: the page's own script and style
 * (shipped in the package's `static/dashboard/`, beside `dist/` and `src/`), and uPlot's, read from
 * the `uplot` package where it is installed. Nothing comes from a CDN: the page works offline.
 */
function assetFiles(): Readonly<Record<string, { file: string; type: string }>> {
  const own = join(__dirname, '..', '..', 'static', 'dashboard');
  const uplot = join(dirname(require.resolve('uplot/package.json')), 'dist');
  return {
    'dashboard.js': { file: join(own, 'dashboard.js'), type: JS },
    'dashboard.css': { file: join(own, 'dashboard.css'), type: CSS },
    'uPlot.iife.min.js': { file: join(uplot, 'uPlot.iife.min.js'), type: JS },
    'uPlot.min.css': { file: join(uplot, 'uPlot.min.css'), type: CSS },
  };
}

/** The page; `base` leads from its URL to `/dashboard/` (`dashboard/` from `/dashboard`, nothing from `/dashboard/`). */
function page(base: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ollama-ring dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}assets/uPlot.min.css">
<link rel="stylesheet" href="${base}assets/dashboard.css">
</head>
<body>
<div id="app"><p class="muted">Loading…</p></div>
<script src="${base}assets/uPlot.iife.min.js"></script>
<script src="${base}assets/dashboard.js"></script>
</body>
</html>
`;
}

/** Scripts and styles from the gateway only; the page talks to the gateway only. */
const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'";

/**
 * The live dashboard (`docs/dashboard.md`):
 *
 * - `GET /dashboard`: the page, and `GET /dashboard/assets/:asset` its files. Neither holds any
 *   of the pool's data, so neither needs credentials.
 * - `POST /dashboard/session`: trades the API key (as any route takes it) for the session cookie
 *   the event stream is read with (a browser's `EventSource` cannot send a header); 204, or 401.
 *   Without API keys configured it answers 204 and sets nothing.
 * - `GET /dashboard/events`: the pool live, as Server-Sent Events (`DashboardFeed`): one snapshot a
 *   second, shared by every open page. Needs the cookie or a key, when keys are configured.
 *
 * Admin actions on the page call the admin API itself, with the admin token the user enters.
 *
 * @example new Gateway({ factory, routes: [addDashboardRoutes] });
 */
export function addDashboardRoutes(router: Router, gw: GatewayContext): void {
  const feed = dashboardFor(gw);
  const pages = new Map<string, Served>();
  const files = new FileCache();
  let known: Readonly<Record<string, { file: string; type: string }>> | undefined;

  router.add(['GET', 'HEAD'], '/dashboard', ({ req, res, url }) => {
    const base = url.pathname.endsWith('/') ? '' : 'dashboard/';
    let html = pages.get(base);
    if (!html) pages.set(base, (html = served('text/html; charset=utf-8', Buffer.from(page(base)))));
    sendServed(req, res, html, PAGE_CACHE, { 'content-security-policy': CSP });
  });

  router.add(['GET', 'HEAD'], '/dashboard/assets/:asset', async ({ req, res, params }) => {
    known ??= assetFiles();
    const f = Object.prototype.hasOwnProperty.call(known, params.asset) ? known[params.asset] : undefined;
    if (!f) return sendNoAsset(res);
    sendServed(req, res, await files.get(params.asset, () => readFile(f.file).then((b) => served(f.type, b))), ASSET_CACHE);
  });

  router.add('POST', '/dashboard/session', ({ req, res }) => {
    if (!requireClient(gw, req, res, 'ollama')) return;
    const key = presentedKey(req);
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    if (gw.config().auth.apiKeys.length > 0 && key !== undefined) headers['set-cookie'] = feed.sessions.cookieFor(key, req);
    res.writeHead(204, headers);
    res.end();
  });

  router.add('GET', '/dashboard/events', async ({ req, res }) => {
    try {
      await feed.open(req, res);
    } catch (e) {
      sendError(res, 500, e instanceof Error ? e.message : String(e), 'ollama');
    }
  });
}

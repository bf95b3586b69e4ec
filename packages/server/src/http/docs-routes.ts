import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { GatewayContext } from '../gateway-context';
import { openApiDocument } from './api-doc/document';
import { GATEWAY_VERSION } from './model-routes';
import type { Router } from './router';
import { ASSET_CACHE, FileCache, PAGE_CACHE, type Served, sendNoAsset, sendServed as send, served } from './static-files';

/** The files of `swagger-ui-dist` the page uses, by the name served under `/docs/`. */
const SWAGGER_FILES: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

/**
 * Started by the page's own script file rather than an inline one, so the page's Content-Security-Policy
 * allows scripts from the gateway only. The document's URL is worked out from this script's, so the
 * page also works behind a reverse proxy that adds a path prefix.
 */
const INIT_JS = `'use strict';
(function () {
  var spec = new URL('../openapi.json', document.currentScript.src).href;
  window.addEventListener('load', function () {
    window.ui = SwaggerUIBundle({ url: spec, dom_id: '#swagger-ui', deepLinking: true, presets: [SwaggerUIBundle.presets.apis], layout: 'BaseLayout' });
  });
})();
`;

/** The page; `base` leads from its URL to the assets (`docs/` from `/docs`, nothing from `/docs/`). */
function page(base: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>ollama-ring API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="${base}swagger-ui.css">
<link rel="icon" type="image/png" href="${base}favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="${base}favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${base}swagger-ui-bundle.js"></script>
<script src="${base}init.js"></script>
</body>
</html>
`;
}

/**
 * The API's own documentation: `GET /openapi.json` (OpenAPI 3.1, built from the routes this router
 * serves, see `api-doc/`), and `GET /docs`, the document rendered by Swagger UI, whose files are
 * served from the `swagger-ui-dist` package (no CDN: the page works offline). No credentials, as
 * for `/health` and `/metrics`: the document describes the API, not the pool, and is the same for
 * everyone.
 *
 * @example new Gateway({ factory, routes: [addHealthRoutes, addDocsRoutes] });
 */
export function addDocsRoutes(router: Router, _gw: GatewayContext): void {
  // Built at first use, when the gateway has added every route.
  let doc: Served | undefined;
  const pages = new Map<string, Served>();
  const assets = new FileCache();
  const uiDir = dirname(require.resolve('swagger-ui-dist/package.json'));
  const asset = (name: string): Promise<Served> | undefined => {
    if (name === 'init.js') return assets.get(name, () => Promise.resolve(served('text/javascript; charset=utf-8', Buffer.from(INIT_JS))));
    if (SWAGGER_FILES[name]) return assets.get(name, () => readFile(join(uiDir, name)).then((b) => served(SWAGGER_FILES[name], b)));
    return undefined;
  };

  router.add(['GET', 'HEAD'], '/openapi.json', ({ req, res }) => {
    doc ??= served('application/json; charset=utf-8', Buffer.from(JSON.stringify(openApiDocument(router.list(), GATEWAY_VERSION))));
    send(req, res, doc, PAGE_CACHE);
  });

  router.add(['GET', 'HEAD'], '/docs', ({ req, res, url }) => {
    const base = url.pathname.endsWith('/') ? '' : 'docs/';
    let html = pages.get(base);
    if (!html) pages.set(base, (html = served('text/html; charset=utf-8', Buffer.from(page(base)))));
    send(req, res, html, PAGE_CACHE, {
      'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    });
  });

  router.add(['GET', 'HEAD'], '/docs/:asset', async ({ req, res, params }) => {
    const a = asset(params.asset);
    if (!a) return sendNoAsset(res);
    send(req, res, await a, ASSET_CACHE);
  });
}

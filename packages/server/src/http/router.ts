import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a route handler gets. */
export interface HttpContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Path parameters (`:model` → `params.model`), URI-decoded. */
  params: Record<string, string>;
}

export type Handler = (ctx: HttpContext) => Promise<void> | void;

interface Route {
  methods: Set<string>;
  segments: string[];
  handler: Handler;
}

/** A match, or why there is none: 404 for an unknown path, 405 for a known path with another method. */
export type RouteMatch = { handler: Handler; params: Record<string, string> } | { status: 404 | 405; allow?: string[] };

/**
 * A small method + path router. Patterns are literal segments and `:name` parameters; a path that
 * matches with another method answers 405 (with `Allow`), as Ollama's router does.
 *
 * @example
 * router.add(['GET', 'HEAD'], '/api/tags', tags);
 * router.add('GET', '/v1/models/:model', model);
 */
export class Router {
  private readonly routes: Route[] = [];

  add(methods: string | string[], pattern: string, handler: Handler): this {
    this.routes.push({
      methods: new Set((Array.isArray(methods) ? methods : [methods]).map((m) => m.toUpperCase())),
      segments: split(pattern),
      handler,
    });
    return this;
  }

  /** What is served: each route's methods and pattern, in the order added (the API document is built from this). */
  list(): { methods: string[]; pattern: string }[] {
    return this.routes.map((r) => ({ methods: [...r.methods], pattern: `/${r.segments.join('/')}` }));
  }

  match(method: string, path: string): RouteMatch {
    const segs = split(path);
    const allow = new Set<string>();
    for (const r of this.routes) {
      const params = matchSegments(r.segments, segs);
      if (!params) continue;
      if (r.methods.has(method.toUpperCase())) return { handler: r.handler, params };
      for (const m of r.methods) allow.add(m);
    }
    return allow.size > 0 ? { status: 405, allow: [...allow] } : { status: 404 };
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function matchSegments(pattern: string[], path: string[]): Record<string, string> | undefined {
  if (pattern.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith(':')) {
      try {
        params[p.slice(1)] = decodeURIComponent(path[i]);
      } catch {
        return undefined;
      }
    } else if (p !== path[i]) return undefined;
  }
  return params;
}

/**
 * A node URL may carry credentials, `http://user:password@host:11434` or
 * `https://user:p%40ss@gw.example/ollama/`: a node published behind an authenticating reverse
 * proxy. This module is their one home: how such a URL is shown (the password masked, wherever a
 * URL is shown or logged) and how it is called (the origin a connection pool opens, the path
 * prefix, and an `Authorization: Basic` header; undici drops userinfo from request URLs, so the
 * header is the only way the credentials travel).
 */

/** What a password (or a lone user name, which may be a token) is shown as. */
export const REDACTED = '***';

/**
 * `scheme://userinfo@`, at the start of a URL or anywhere in a text. The userinfo runs to the last
 * `@` of the authority (as the WHATWG parser reads `http://u:p@ss@h`: password `p@ss`), never past
 * what ends an authority (`/ ? # \`), a word of running text, or a quoted value.
 */
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#\\"'`<>]*)@/gi;

/**
 * The text with the credentials of every URL in it masked: `user:password@` becomes `user:***@`,
 * a lone `token@` becomes `***@`; the rest is left exactly as it was. Takes a URL alone or a whole
 * message (a config error that quotes a URL, say); idempotent, and a text without `@` is returned
 * as is at the cost of one scan.
 *
 * @example
 * redactCredentials('http://ring:s3cret@10.0.0.5:11434'); // 'http://ring:***@10.0.0.5:11434'
 * redactCredentials('nodes[0].url: bad (got "ftp://u:pw@x")'); // 'nodes[0].url: bad (got "ftp://u:***@x")'
 */
export function redactCredentials(text: string): string {
  if (!text.includes('@')) return text;
  return text.replace(USERINFO, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon === -1 ? REDACTED : `${userinfo.slice(0, colon)}:${REDACTED}`}@`;
  });
}

/**
 * How a node is called, worked out once from its URL.
 *
 * @example
 * const a = nodeUrlParts('http://ring:p%40ss@gw:8080/ollama/');
 * // { origin: 'http://gw:8080', basePath: '/ollama', headers: { authorization: 'Basic cmluZzpwQHNz' }, shown: 'http://ring:***@gw:8080/ollama/' }
 */
export interface NodeUrlParts {
  /** `scheme://host:port`, without credentials: what a connection pool is opened to. */
  readonly origin: string;
  /** The path prefix, without a trailing slash; '' for none. Every path sent goes after it. */
  readonly basePath: string;
  /**
   * `{ authorization: 'Basic …' }` when the URL has credentials, else empty. Frozen and shared by
   * every request to the node: build it once per node, never per request.
   */
  readonly headers: Readonly<Record<string, string>>;
  /** The URL as it may be shown: {@link redactCredentials} of it. */
  readonly shown: string;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Splits a node URL (an absolute http(s) URL, as the config checks) into what calling it takes.
 * The user name and password are percent-decoded for the header (`p%40ss` is `p@ss`); the query
 * and fragment of a node URL mean nothing and are dropped.
 *
 * @example
 * const { origin, basePath, headers } = nodeUrlParts(node.url);
 * await request(`${origin}${basePath}/api/tags`, { headers });
 */
export function nodeUrlParts(url: string): NodeUrlParts {
  const u = new URL(url);
  const headers =
    u.username || u.password ? Object.freeze({ authorization: `Basic ${Buffer.from(`${decoded(u.username)}:${decoded(u.password)}`).toString('base64')}` }) : NO_HEADERS;
  return Object.freeze({ origin: u.origin, basePath: u.pathname.replace(/\/+$/, ''), headers, shown: redactCredentials(url) });
}

/** Percent-decoded; a malformed escape (`%zz`, which the URL parser lets through) is sent as written. */
function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

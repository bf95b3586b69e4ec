const CONTENT_LENGTH: ReadonlySet<string> = new Set(['content-length']);

/** Headers that belong to one connection and must not be forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * Copies headers without the hop-by-hop ones, nor any named in their `Connection` header, nor those
 * in `drop` (lower case; by default `content-length`, since the body is re-framed). Multi-valued
 * headers are joined with `, `.
 *
 * @example stripHopByHop(upstream.headers); stripHopByHop(req.headers, new Set(['host', 'content-length']));
 */
export function stripHopByHop(headers: Readonly<Record<string, string | string[] | undefined>>, drop: ReadonlySet<string> = CONTENT_LENGTH): Record<string, string> {
  // Headers named in `Connection` are hop-by-hop too; most responses name none (keep-alive at most).
  const connection = headers.connection;
  const named =
    connection === undefined
      ? undefined
      : new Set(
          String(connection)
            .split(',')
            .map((s) => s.trim().toLowerCase())
            .filter(Boolean),
        );
  const out: Record<string, string> = {};
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined) continue;
    const key = k.toLowerCase();
    if (HOP_BY_HOP.has(key) || drop.has(key) || named?.has(key)) continue;
    out[key] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/**
 * Checks of the TLS keys of a config (`server.tls`, `upstreamTls`, `nodes[].tls`): a certificate
 * goes with its key, and every file named can be read and holds what its key says (PEM), so a
 * mistake is a config error naming the key, at load, rather than a failed handshake later.
 */
import { readFileSync } from 'node:fs';
import { isPlainObject, type Segment } from './paths';

/** A finding at a path of the input (the shape of `resolve.ts`'s `Problem`, which merges these). */
export interface TlsProblem {
  segs: Segment[];
  message: string;
  warning: false;
}

/** What each key's file must hold. */
const PEM_OF: Readonly<Record<string, RegExp>> = {
  cert: /-----BEGIN CERTIFICATE-----/,
  ca: /-----BEGIN CERTIFICATE-----/,
  key: /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
};

/** The places TLS files may be named in a (schema-valid) input, with their paths. */
function tlsBlocks(input: Record<string, unknown>): { segs: Segment[]; block: Record<string, unknown> }[] {
  const out: { segs: Segment[]; block: Record<string, unknown> }[] = [];
  if (isPlainObject(input.server) && isPlainObject(input.server.tls)) out.push({ segs: ['server', 'tls'], block: input.server.tls });
  if (isPlainObject(input.upstreamTls)) out.push({ segs: ['upstreamTls'], block: input.upstreamTls });
  if (Array.isArray(input.nodes)) {
    input.nodes.forEach((n: unknown, i) => {
      if (isPlainObject(n) && isPlainObject(n.tls)) out.push({ segs: ['nodes', i, 'tls'], block: n.tls });
    });
  }
  return out;
}

/**
 * A client certificate without its key (or a key without its certificate), anywhere. Pure: no file
 * is read (the schema already requires both for `server.tls`).
 *
 * @example tlsPairProblems({ upstreamTls: { cert: 'c.pem' } }); // [{ segs: ['upstreamTls', 'key'], message: 'is required with upstreamTls.cert', … }]
 */
export function tlsPairProblems(input: Record<string, unknown>): TlsProblem[] {
  const problems: TlsProblem[] = [];
  for (const { segs, block } of tlsBlocks(input)) {
    const at = segs
      .map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`))
      .join('')
      .slice(1);
    if (block.cert !== undefined && block.key === undefined) problems.push({ segs: [...segs, 'key'], message: `is required with ${at}.cert`, warning: false });
    if (block.key !== undefined && block.cert === undefined) problems.push({ segs: [...segs, 'cert'], message: `is required with ${at}.key`, warning: false });
  }
  return problems;
}

/**
 * Every TLS file named in the input that cannot be read, or does not hold a PEM certificate (`cert`,
 * `ca`) or private key (`key`).
 *
 * @example tlsFileProblems({ server: { tls: { cert: 'missing.pem', key: 'k.pem' } } })[0].message; // 'cannot read missing.pem (ENOENT)'
 */
export function tlsFileProblems(input: Record<string, unknown>): TlsProblem[] {
  const problems: TlsProblem[] = [];
  for (const { segs, block } of tlsBlocks(input)) {
    for (const [k, path] of Object.entries(block)) {
      if (typeof path !== 'string' || !PEM_OF[k]) continue;
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (e) {
        problems.push({ segs: [...segs, k], message: `cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? String(e)})`, warning: false });
        continue;
      }
      if (!PEM_OF[k].test(text)) {
        problems.push({ segs: [...segs, k], message: `${path} holds no PEM ${k === 'key' ? 'private key' : 'certificate'}`, warning: false });
      }
    }
  }
  return problems;
}

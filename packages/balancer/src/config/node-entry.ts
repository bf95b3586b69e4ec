/**
 * The one-line node syntax shared by `hosts.txt` lines, `OLLAMA_RING_NODES` entries and string
 * items of `nodes:`: `[id=]target[*slots]`, where target is `host`, `host:port`, `[v6]:port` or an
 * http(s) URL. A bare host gets Ollama's port, 11434; a URL keeps its own (scheme default) port.
 */
import { ConfigError } from '../errors';
import { OLLAMA_DEFAULT_PORT } from './defaults';
import { isHttpUrl } from './schema';

/**
 * A parsed entry: only what the line says; defaults are applied later.
 *
 * @example const e: NodeEntry = { id: 'gpu', url: 'http://10.0.0.5:11434', maxConcurrentRequests: 4 };
 */
export interface NodeEntry {
  id?: string;
  url: string;
  maxConcurrentRequests?: number;
}

const BARE_HOST = /^(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(?::(\d+))?$/;
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * Parses one entry; throws a {@link ConfigError} without issues, whose message the caller places
 * (line, variable).
 *
 * @example parseNodeEntry('gpu=10.0.0.5:11434*4'); // { id: 'gpu', url: 'http://10.0.0.5:11434', maxConcurrentRequests: 4 }
 */
export function parseNodeEntry(text: string): NodeEntry {
  let rest = text.trim();
  if (rest === '') throw new ConfigError('empty node entry');
  const out: Partial<NodeEntry> = {};

  const star = rest.lastIndexOf('*');
  if (star !== -1) {
    const slots = rest.slice(star + 1).trim();
    if (!/^\d+$/.test(slots) || Number(slots) < 1) {
      throw new ConfigError(`bad slot count "*${slots}": expected *N with N >= 1`);
    }
    out.maxConcurrentRequests = Number(slots);
    rest = rest.slice(0, star).trim();
  }

  const eq = rest.indexOf('=');
  // An '=' before any ':' or '/' separates an id; later ones would belong to a URL's query.
  if (eq !== -1 && !/[:/]/.test(rest.slice(0, eq))) {
    const id = rest.slice(0, eq).trim();
    if (!/^[^\s/]+$/.test(id)) throw new ConfigError(`bad node id "${id}"`);
    out.id = id;
    rest = rest.slice(eq + 1).trim();
  }

  if (/\s/.test(rest)) throw new ConfigError(`unexpected whitespace in "${rest}" (one node per entry)`);
  let url: string;
  if (SCHEME.test(rest)) {
    url = rest;
  } else {
    const m = BARE_HOST.exec(rest);
    if (!m) throw new ConfigError(`expected host:port or an http(s):// URL, got "${rest}"`);
    url = m[1] === undefined ? `http://${rest}:${OLLAMA_DEFAULT_PORT}` : `http://${rest}`;
  }
  if (!isHttpUrl(url)) throw new ConfigError(`not a valid http(s) URL: "${rest}"`);
  return { ...out, url };
}

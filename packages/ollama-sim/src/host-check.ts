/**
 * Ollama's `allowedHostsMiddleware`: on a loopback listener, a request whose `Host` is not local gets
 * a 403 with an empty body. This catches a balancer that forwards the client's Host unchanged.
 */
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';

export function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

function isPrivateOrLocalIp(ip: string): boolean {
  if (ip === '0.0.0.0' || ip === '::') return true;
  if (ip.startsWith('127.') || ip === '::1') return true;
  if (ip.startsWith('10.') || ip.startsWith('192.168.') || ip.startsWith('169.254.')) return true;
  const m = /^172\.(\d+)\./.exec(ip);
  if (m && Number(m[1]) >= 16 && Number(m[1]) <= 31) return true;
  const lower = ip.toLowerCase();
  if (lower.startsWith('fc') || lower.startsWith('fd') || lower.startsWith('fe80:')) return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.address === ip) return true;
  }
  return false;
}

/** Whether a `Host` header value passes Ollama's check. */
export function isAllowedHost(header: string | undefined): boolean {
  if (!header) return true;
  let host = header;
  if (host.startsWith('[')) host = host.slice(1, host.indexOf(']'));
  else if (host.split(':').length === 2) host = host.slice(0, host.indexOf(':'));
  host = host.toLowerCase();
  if (isIP(host)) return isPrivateOrLocalIp(host);
  if (host === 'localhost' || host === hostname().toLowerCase()) return true;
  return host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal');
}

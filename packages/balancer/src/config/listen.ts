/**
 * A listen address as the config writes it: `host:port`, `[ipv6]:port`, or `''` for none
 * (`metrics.listen` and `admin.listen`: a separate listener for `/metrics` or `/admin/*`).
 */
export interface ListenAddress {
  host: string;
  port: number;
}

const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/]+)):(\d{1,5})$/;

/**
 * The address of `host:port` (`[::1]:9464` for IPv6; port 0 picks a free one), or undefined when
 * `text` is not one (the empty string included).
 *
 * @example parseListen('127.0.0.1:9464'); // { host: '127.0.0.1', port: 9464 }
 */
export function parseListen(text: string): ListenAddress | undefined {
  const m = HOST_PORT.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  return { host: m[1] ?? m[2], port };
}

/** `ollama-ring status`: a running gateway's pool, as a table, once or (`--watch`) live. */
import { COMMON_OPTIONS, intFlag, parseCommandArgs, positiveFlag } from './args';
import { watchStatus } from './status-watch';
import { formatStatus, readPool, type StatusTarget } from './status-pool';
import { type Command, EXIT_FAILURE, EXIT_OK, UsageError } from './types';
import { packageVersion } from './version';

const USAGE = `Usage: ollama-ring status [--url URL] [--token T] [--json] [--watch [--interval S] [--count N]]

Prints the pool of a running gateway: each node's id, url, health, in-flight/slots, hot models,
circuit breaker and state. Reads GET /admin/nodes (admin token, or loopback when none is set), and
falls back to GET /api/stats when the admin API refuses.

With --watch it keeps watching: on a terminal the demo's live view of the pool (health and breaker,
slots used, tokens/s, requests served, resident models, the wait queue) redrawn in place; otherwise
the table again every interval, each under a timestamp. Ctrl-C stops it.

Options:
      --url URL      the gateway (default http://127.0.0.1:8080)
      --token T      admin token (default: $OLLAMA_RING_ADMIN_TOKEN)
      --timeout S    seconds to wait for each answer (default 5)
      --json         print the raw answer
  -w, --watch        refresh until stopped
      --interval S   seconds between refreshes with --watch (default 2)
      --count N      stop after N refreshes (default: until Ctrl-C)
      --no-color     no colours in the live view (also NO_COLOR)
  -h, --help         show this help
  -V, --version      print the version
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  url: { type: 'string' },
  token: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  watch: { type: 'boolean', short: 'w' },
  interval: { type: 'string' },
  count: { type: 'string' },
  'no-color': { type: 'boolean' },
} as const;

export const statusCommand: Command = {
  name: 'status',
  summary: "print a running gateway's pool as a table (--watch: a live view)",
  usage: USAGE,
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, OPTIONS, 0);
    if (values.help) return (io.out(USAGE), EXIT_OK);
    if (values.version) return (io.out(`${packageVersion()}\n`), EXIT_OK);
    const base = (values.url ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]/.test(base) || !URL.canParse(base)) throw new UsageError(`--url must be an http(s) URL, got '${base}'`);
    const timeoutMs = (positiveFlag(values.timeout, '--timeout') ?? 5) * 1000;
    const token = values.token ?? io.env.OLLAMA_RING_ADMIN_TOKEN;
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const target: StatusTarget = { base, headers, timeoutMs };
    if (!values.watch && (values.interval !== undefined || values.count !== undefined)) throw new UsageError('--interval and --count go with --watch');
    if (values.watch) {
      if (values.json) throw new UsageError('--json and --watch do not go together');
      const intervalMs = (positiveFlag(values.interval, '--interval') ?? 2) * 1000;
      const count = intFlag(values.count, '--count', 1, Number.MAX_SAFE_INTEGER);
      const color = io.isTTY && !values['no-color'] && io.env.NO_COLOR === undefined;
      return watchStatus(target, { intervalMs, count, color }, io);
    }
    const read = await readPool(target);
    if ('error' in read) return (io.err(`ollama-ring status: ${read.error}\n`), EXIT_FAILURE);
    if (values.json) return (io.out(JSON.stringify(read.body, null, 2) + '\n'), EXIT_OK);
    io.out(formatStatus(base, read.rows));
    return EXIT_OK;
  },
};

export { nodeRows, type NodeRow } from './status-pool';

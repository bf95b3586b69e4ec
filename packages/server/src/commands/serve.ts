/**
 * `ollama-ring serve`: the gateway as a process. Loads the config (or the zero-config pool),
 * starts the balancer and the HTTP front, watches the config files, logs JSON lines to stdout,
 * and drains on SIGTERM/SIGINT.
 */
import { isDeepStrictEqual } from 'node:util';
import { ConfigError, PipelineFactory } from '@ollama-ring/balancer';
import type { AddressInfo } from 'node:net';
import { Gateway } from '../gateway';
import { allRoutes } from '../http/routes';
import { componentLogger, createLogger, isLogLevel, LOG_LEVELS, type LogLevel } from '../logging';
import { COMMON_OPTIONS, intFlag, parseCommandArgs } from './args';
import { logNodeTransitions } from './node-log';
import { routingLogger } from './routing-log';
import { type ComposedConfig, composeConfig, type ServeSources, watchServeConfig } from './serve-config';
import { untilShutdown } from './signals';
import { type CliIo, type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './types';
import { packageVersion } from './version';

const USAGE = `Usage: ollama-ring serve [--config FILE] [options]

Runs the gateway: an Ollama- and OpenAI-compatible HTTP server in front of a pool of Ollama nodes.
With no config (and no OLLAMA_RING_CONFIG), the pool is the local Ollama at http://127.0.0.1:11434.

Options:
  -c, --config FILE    config file (YAML or JSON; a node list or hosts.txt also works); watched,
                       good edits apply at once, a bad edit is logged and the last good config stays
      --hosts FILE     hosts.txt (one node per line: [id=]host[:port][*slots]) replacing the config's
                       nodes; watched too
  -p, --port N         listen port (default: server.port, 8080; 0 picks a free port)
      --host H         listen address (default: server.host, 127.0.0.1)
      --verbose        log every routing decision (debug lines: node, strategy, cold, queue ms)
      --log-level L    ${LOG_LEVELS.join(' | ')}
                       (default: logging.level, or debug with --verbose)
      --grace-ms N     on SIGTERM/SIGINT, how long in-flight requests may finish (default 30000);
                       a second signal exits at once with status 1
  -h, --help           show this help
  -V, --version        print the version

Logs are JSON lines on stdout. Config errors name the key and line, and exit with status 2.
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  config: { type: 'string', short: 'c' },
  hosts: { type: 'string' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  verbose: { type: 'boolean' },
  'log-level': { type: 'string' },
  'grace-ms': { type: 'string' },
} as const;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the gateway (no config: the local Ollama at 127.0.0.1:11434)',
  usage: USAGE,
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, OPTIONS, 0);
    if (values.help) return (io.out(USAGE), EXIT_OK);
    if (values.version) return (io.out(`${packageVersion()}\n`), EXIT_OK);
    const logLevel = values['log-level'];
    if (logLevel !== undefined && !isLogLevel(logLevel)) {
      throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`);
    }
    const src: ServeSources = {
      config: values.config,
      hosts: values.hosts,
      port: intFlag(values.port, '--port', 0, 65535),
      host: values.host,
    };
    const graceMs = intFlag(values['grace-ms'], '--grace-ms', 0, 24 * 3600 * 1000) ?? 30_000;
    let composed: ComposedConfig;
    try {
      composed = composeConfig(src, io.env);
    } catch (e) {
      if (e instanceof ConfigError) {
        io.err(`ollama-ring serve: ${e.message}\n`);
        return EXIT_USAGE;
      }
      throw e;
    }
    return serve(src, composed, { verbose: values.verbose === true, logLevel, graceMs }, io);
  },
};

interface ServeOptions {
  verbose: boolean;
  logLevel?: LogLevel;
  graceMs: number;
}

async function serve(src: ServeSources, initial: ComposedConfig, opts: ServeOptions, io: CliIo): Promise<number> {
  const cfg = initial.config;
  const verbose = opts.verbose || cfg.logging.verbose;
  const root = createLogger({ level: opts.logLevel ?? (verbose ? 'debug' : cfg.logging.level) });
  const log = componentLogger(root, 'serve');
  for (const w of initial.warnings) log.warn({ file: initial.configFile }, w);

  const factory = PipelineFactory.fromConfig(cfg, { observer: verbose ? routingLogger(componentLogger(root, 'scheduler')) : undefined });
  try {
    await factory.start();
  } catch (e) {
    log.fatal({ err: e }, 'the balancer failed to start');
    return EXIT_FAILURE;
  }
  let gateway: Gateway;
  try {
    gateway = new Gateway({
      factory,
      logger: componentLogger(root, 'http'),
      // POST /admin/reload re-reads the same files, with the same flags on top.
      loadConfig: () => composeConfig(src, io.env).config,
      routes: allRoutes,
    });
  } catch (e) {
    // server.tls files that cannot be used (a key that is not the certificate's): the error names the key.
    log.fatal({ err: e }, 'cannot set up the listener');
    await factory.stop(0);
    return EXIT_FAILURE;
  }
  let addr: AddressInfo;
  try {
    addr = await gateway.listen(cfg.server.port, cfg.server.host);
  } catch (e) {
    log.fatal({ err: e, host: cfg.server.host, port: cfg.server.port }, 'cannot listen');
    await gateway.close(0);
    return EXIT_FAILURE;
  }
  const urlOf = (a: AddressInfo, scheme = 'http'): string => `${scheme}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
  const url = urlOf(addr, gateway.scheme);
  const sides = gateway.sideAddresses();
  log.info(
    {
      url,
      host: addr.address,
      port: addr.port,
      nodes: cfg.nodes.map((n) => n.id),
      strategy: cfg.strategy.type,
      config: initial.configFile ?? null,
      hosts: initial.hostsFile ?? null,
      env: initial.env.length ? initial.env : undefined,
      metricsUrl: sides.metrics ? `${urlOf(sides.metrics)}/metrics` : undefined,
      adminUrl: sides.admin ? `${urlOf(sides.admin)}/admin` : undefined,
      version: packageVersion(),
    },
    'listening',
  );

  const stopNodeLog = logNodeTransitions(factory.getNodeRegistry(), componentLogger(root, 'nodes'));
  const watch = watchServeConfig(
    src,
    initial,
    io.env,
    (next, file) => {
      for (const w of next.warnings) log.warn({ file }, w);
      // The listener and its client timeouts are set up once, at start.
      // Both sides' keys: `server.tls` may be added or removed.
      const keys = [...new Set([...Object.keys(cfg.server), ...Object.keys(next.config.server)])] as (keyof typeof cfg.server)[];
      const changed = keys.filter((k) => !isDeepStrictEqual(next.config.server[k], cfg.server[k])).map((k) => `server.${k}`);
      if (next.config.metrics.listen !== cfg.metrics.listen) changed.push('metrics.listen');
      if (next.config.admin.listen !== cfg.admin.listen) changed.push('admin.listen');
      if (changed.length > 0) {
        log.warn({ file, keys: changed }, 'listener settings changed: a restart applies them; everything else applies now');
      }
      factory
        .reload(next.config)
        .then(() => {
          // The pool as it now is: the file's nodes, then those added through the admin API, which a reload keeps.
          const configured = factory.getConfiguredNodeIds();
          const nodes = factory.getConfig().nodes.map((n) => n.id);
          const runtime = nodes.filter((id) => !configured.has(id));
          log.info({ file, nodes, runtimeNodes: runtime.length ? runtime : undefined, strategy: next.config.strategy.type }, 'config reloaded');
        })
        .catch((err: unknown) => log.error({ err, file }, 'config not applied; the last good config stays'));
    },
    (err, file) => {
      const issues = err instanceof ConfigError ? err.issues : undefined;
      log.error({ file, error: err.message, issues }, 'config not reloaded; the last good config stays');
    },
  );
  await watch.ready;

  return untilShutdown({
    drain: async (signal) => {
      log.info({ signal, graceMs: opts.graceMs }, 'shutting down: draining in-flight requests (a second signal exits now)');
      stopNodeLog();
      await watch.close();
      await gateway.close(opts.graceMs);
      log.info('stopped');
      return EXIT_OK;
    },
    force: (signal) => {
      log.warn({ signal }, 'second signal: exiting without draining');
      process.exit(EXIT_FAILURE);
    },
  });
}

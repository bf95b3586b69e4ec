/** `ollama-ring check-config FILE`: validate a config and print the effective one. */
import { type BalancerConfig, ConfigError, redactCredentials } from '@ollama-ring/balancer';
import { COMMON_OPTIONS, parseCommandArgs } from './args';
import { composeConfig } from './serve-config';
import { type Command, EXIT_OK, EXIT_USAGE } from './types';
import { packageVersion } from './version';
import { toYaml } from './yaml-out';

const USAGE = `Usage: ollama-ring check-config [FILE] [--hosts FILE] [--json]

Validates a config file (YAML or JSON config, a node list, or a hosts.txt) and prints the effective
config: defaults, the file, and environment overrides (OLLAMA_RING_*) merged, as serve would run it.
Secrets are printed masked: a password in a node, exporter or Redis URL (user:***@host), the
admin token and the API keys (***).
Without FILE it checks what serve would load with no --config (OLLAMA_RING_CONFIG or zero config).
Warnings (unknown keys and the like) go to stderr. Errors name the key and its line; exit status 2.

Options:
      --hosts FILE   a hosts.txt whose nodes replace the config's (as with serve)
      --json         print JSON instead of YAML
  -h, --help         show this help
  -V, --version      print the version
`;

const OPTIONS = { ...COMMON_OPTIONS, json: { type: 'boolean' }, hosts: { type: 'string' } } as const;

export const checkConfigCommand: Command = {
  name: 'check-config',
  summary: 'validate a config file and print the effective config',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, OPTIONS, 1);
    if (values.help) return (io.out(USAGE), EXIT_OK);
    if (values.version) return (io.out(`${packageVersion()}\n`), EXIT_OK);
    try {
      const c = composeConfig({ config: positionals[0], hosts: values.hosts }, io.env);
      for (const w of c.warnings) io.err(`warning: ${w}\n`);
      const shown = masked(c.config);
      if (values.json) {
        io.out(JSON.stringify(shown, null, 2) + '\n');
      } else {
        const from = [c.configFile ?? 'zero config (no file)', c.hostsFile ? `nodes from ${c.hostsFile}` : '', c.env.length ? `env: ${c.env.join(', ')}` : '']
          .filter(Boolean)
          .join('; ');
        io.out(`# effective config: ${from}\n${toYaml(shown)}`);
      }
      io.err('config OK\n');
      return EXIT_OK;
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      io.err(`${e.message}\n`);
      return EXIT_USAGE;
    }
  },
};

/**
 * The config as printed, its secrets masked (the output is pasted into tickets and chats): the
 * passwords in node, exporter and Redis URLs, the admin token and the API keys (`***`; an empty one
 * stays empty, so that "no token set" still shows).
 */
function masked(config: BalancerConfig): BalancerConfig {
  const secret = (s: string): string => (s === '' ? s : '***');
  return {
    ...config,
    nodes: config.nodes.map((n) => ({ ...n, url: redactCredentials(n.url), ...(n.metricsUrl !== undefined && { metricsUrl: redactCredentials(n.metricsUrl) }) })),
    auth: { ...config.auth, adminToken: secret(config.auth.adminToken), apiKeys: config.auth.apiKeys.map((k) => ({ ...k, key: secret(k.key) })) },
    state: { ...config.state, redis: { ...config.state.redis, url: redactCredentials(config.state.redis.url) } },
  };
}

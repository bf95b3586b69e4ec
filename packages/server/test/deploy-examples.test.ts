/**
 * The operator's examples in deploy/: the production config loads with the real config loader and
 * passes `ollama-ring check-config`; the systemd unit is well formed, agrees with the config and the
 * CLI (its command, state directory, exit status for config errors, stop timeout), and passes
 * `systemd-analyze verify` on the unit (scripts/ensure-tools installs systemd when missing).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, StrategyFactory } from '@ollama-ring/balancer';
import { runCli } from '../src/cli';
import { EXIT_USAGE } from '../src/commands/types';

const REPO = join(__dirname, '..', '..', '..');
const CONFIG = join(REPO, 'deploy', 'config', 'production.yaml');
const UNIT = join(REPO, 'deploy', 'systemd', 'ollama-ring.service');
/** Where the unit's comments and docs/operations.md install the config. */
const INSTALLED_CONFIG = '/etc/ollama-ring/config.yaml';
/** The environment file the config's comments describe (secrets out of the config file). */
const ENV = {
  OLLAMA_RING_ADMIN_TOKEN: 'admin-secret-0123456789',
  OLLAMA_RING__AUTH__API_KEYS: '[{key: "key-a-0123456789", name: team-a}, {key: "key-b-0123456789", name: batch, maxPriority: 0}]',
};

describe('deploy/config/production.yaml', () => {
  test('loads with the real config loader, without a warning, secrets from the environment', () => {
    const { config, warnings } = loadConfig(CONFIG, { env: ENV, strategies: StrategyFactory.accepts });
    expect(warnings).toEqual([]);
    expect(config.nodes.map((n) => [n.id, n.maxConcurrentRequests])).toEqual([
      ['gpu-1', 4],
      ['gpu-2', 4],
      ['gpu-3', 2],
      ['cpu-1', 2],
    ]);
    expect(config.nodes.filter((n) => n.metricsUrl !== undefined).length).toBe(3);
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.strategy.type).toBe('predictive');
    expect(config.auth.adminToken).toBe(ENV.OLLAMA_RING_ADMIN_TOKEN);
    expect(config.auth.apiKeys).toEqual([
      { key: 'key-a-0123456789', name: 'team-a' },
      { key: 'key-b-0123456789', name: 'batch', maxPriority: 0 },
    ]);
    // The shipped alert rules and dashboard read this prefix.
    expect(config.metrics).toEqual({ enabled: true, prefix: 'ollama_lb', listen: '' });
  });

  test('passes ollama-ring check-config', async () => {
    let out = '';
    let err = '';
    const code = await runCli(['check-config', CONFIG], { out: (t) => void (out += t), err: (t) => void (err += t), isTTY: false, env: ENV });
    expect(err).toBe('config OK\n');
    expect(code).toBe(0);
    expect(out).toMatch(/^# effective config: .*production\.yaml; env: /);
  });
});

/** The unit as sections of key/value pairs, failing on any line that is none of comment, blank, section, `Key=Value`. */
function parseUnit(text: string): Map<string, [string, string][]> {
  const sections = new Map<string, [string, string][]>();
  let current: [string, string][] | undefined;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[([A-Za-z]+)\]$/.exec(line);
    if (section) {
      if (sections.has(section[1])) throw new Error(`line ${i + 1}: section [${section[1]}] twice`);
      sections.set(section[1], (current = []));
      continue;
    }
    const kv = /^([A-Z][A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`line ${i + 1}: not a Key=Value line in a section: ${raw}`);
    current.push([kv[1], kv[2]]);
  }
  return sections;
}

describe('deploy/systemd/ollama-ring.service', () => {
  const unit = parseUnit(readFileSync(UNIT, 'utf8'));
  const get = (section: string, key: string): string[] => (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);

  test('is well formed: its three sections, each key once', () => {
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    for (const [section, pairs] of unit) {
      const keys = pairs.map(([k]) => k);
      expect({ section, duplicates: keys.filter((k, i) => keys.indexOf(k) !== i) }).toEqual({ section, duplicates: [] });
    }
    expect(get('Install', 'WantedBy')).toEqual(['multi-user.target']);
    expect(get('Unit', 'After')).toEqual(['network-online.target']);
  });

  test('agrees with the CLI and the production config', async () => {
    const [exec] = get('Service', 'ExecStart');
    const [bin, ...args] = exec.split(/\s+/);
    expect(bin).toBe('/usr/local/bin/ollama-ring');
    expect(args).toEqual(['serve', '--config', INSTALLED_CONFIG]);
    // The serve command accepts those flags (--help after them: parsed, then nothing started).
    let out = '';
    expect(await runCli([...args, '--help'], { out: (t) => void (out += t), err: () => undefined, isTTY: false, env: {} })).toBe(0);
    expect(out).toMatch(/--config FILE/);
    // A config error exits 2: restarting would fail the same way.
    expect(get('Service', 'RestartPreventExitStatus')).toEqual([String(EXIT_USAGE)]);
    expect(get('Service', 'Restart')).toEqual(['on-failure']);
    // systemd waits longer than serve's default drain (--grace-ms 30000) before it kills.
    expect(Number(/^(\d+)s$/.exec(get('Service', 'TimeoutStopSec')[0])?.[1])).toBeGreaterThan(30);
    expect(get('Service', 'KillSignal')).toEqual(['SIGTERM']);
    // The batch jobs' files live in the unit's state directory (the only writable place it has).
    const [state] = get('Service', 'StateDirectory');
    const { config } = loadConfig(CONFIG, { env: ENV });
    expect(config.batch.dataDir.startsWith(`/var/lib/${state}/`)).toBe(true);
    expect(get('Service', 'WorkingDirectory')).toEqual([`/var/lib/${state}`]);
    expect(get('Service', 'ProtectSystem')).toEqual(['strict']);
    expect(get('Service', 'EnvironmentFile')).toEqual(['-/etc/ollama-ring/env']);
  });

  // systemd-analyze comes with Debian's systemd package, which scripts/ensure-tools installs when missing.
  test('passes systemd-analyze verify (with this checkout as the installed command)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ring-unit-'));
    try {
      // verify checks that ExecStart's program exists; on this machine it is the checkout's bin.
      const bin = join(REPO, 'packages', 'server', 'bin', 'ollama-ring.js');
      const text = readFileSync(UNIT, 'utf8');
      expect(text.match(/\/usr\/local\/bin\/ollama-ring\b/g)?.length).toBeGreaterThanOrEqual(1);
      writeFileSync(join(dir, 'ollama-ring.service'), text.replace(/^ExecStart=\/usr\/local\/bin\/ollama-ring /m, `ExecStart=${bin} `));
      const ok = spawnSync('systemd-analyze', ['verify', join(dir, 'ollama-ring.service')], { encoding: 'utf8' });
      expect({ status: ok.status, stderr: ok.stderr, stdout: ok.stdout }).toEqual({ status: 0, stderr: '', stdout: '' });
      // And it would notice a mistake: a misspelt key is reported.
      writeFileSync(join(dir, 'ollama-ring-typo.service'), readFileSync(join(dir, 'ollama-ring.service'), 'utf8').replace('RestartSec=', 'RestartSecs='));
      const typo = spawnSync('systemd-analyze', ['verify', join(dir, 'ollama-ring-typo.service')], { encoding: 'utf8' });
      expect(typo.stderr).toMatch(/Unknown key 'RestartSecs'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

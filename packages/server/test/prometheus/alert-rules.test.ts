import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { allRoutes } from '../../src';
import { startGateway, type GatewayHarness } from '../gateway-harness';
import { exportedSeriesNames, metricNamesIn } from './exported';
import { LOAD_NODES, scrape } from './load';
import { promtool, REPO } from './tools';

// deploy/prometheus/alerts.yml, checked by the real promtool: the rules parse (`check rules`), each
// alert fires on a synthetic series in alerts.test.yml (`test rules`), every alert has such a test,
// the ones an operator must hear about are all there, and every metric they read is one the gateway
// exports.

const DIR = join(REPO, 'deploy', 'prometheus');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface TestFile {
  rule_files: string[];
  tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
}

const rules = (): Rule[] => (load(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as RuleFile).groups.flatMap((g) => g.rules);

describe('deploy/prometheus/alerts.yml', () => {
  it('passes promtool check rules', async () => {
    const r = await promtool(['check', 'rules', join(DIR, 'alerts.yml')]);
    expect(r.stdout).toMatch(new RegExp(`SUCCESS: ${rules().length} rules found`));
  });

  it('passes its unit tests (promtool test rules): each alert fires on a synthetic series', async () => {
    const r = await promtool(['test', 'rules', join(DIR, 'alerts.test.yml')]);
    expect(r.stdout).toMatch(/SUCCESS/);
  });

  it('has an alert for each thing an operator must hear about, and a firing test for every alert', () => {
    const alerts = rules().flatMap((r) => (r.alert === undefined ? [] : [r.alert]));
    for (const name of [
      'OllamaRingNodeDown',
      'OllamaRingModelUnavailable',
      'OllamaRingBreakerOpen',
      'OllamaRingQueueWaitHigh',
      'OllamaRingHighRejectionRate',
      'OllamaRingHighErrorRate',
      'OllamaRingColdLoadStorm',
      'OllamaRingGatewayNotReady',
      'OllamaRingGatewayDown',
    ]) {
      expect(alerts).toContain(name);
    }
    const tests = load(readFileSync(join(DIR, 'alerts.test.yml'), 'utf8')) as TestFile;
    expect(tests.rule_files).toEqual(['alerts.yml']);
    const fired = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)));
    const quiet = new Set(tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length === 0).map((a) => a.alertname)));
    for (const name of alerts) {
      expect({ name, fires: fired.has(name), staysQuiet: quiet.has(name) }).toEqual({ name, fires: true, staysQuiet: true });
    }
  });

  describe('reads only metrics the gateway exports', () => {
    let h: GatewayHarness;
    beforeAll(async () => {
      h = await startGateway(LOAD_NODES, () => undefined, { routes: allRoutes });
    });
    afterAll(() => h.close());

    it('every metric in every rule is in /metrics', async () => {
      const exported = exportedSeriesNames(await scrape(h.url));
      // Prometheus's own, for each target it scrapes.
      exported.add('up');
      for (const rule of rules()) {
        const names = metricNamesIn(rule.expr);
        expect(names.length).toBeGreaterThan(0);
        expect({ rule: rule.alert, missing: names.filter((n) => !exported.has(n)) }).toEqual({ rule: rule.alert, missing: [] });
      }
    });
  });
});

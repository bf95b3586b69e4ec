import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { allRoutes } from '../../src';
import { startGateway, type GatewayHarness } from '../gateway-harness';
import { allPanels, dashboardQueries, readDashboard } from './dashboard';
import { exportedSeriesNames, metricNamesIn } from './exported';
import { LOAD_NODES, scrape } from './load';
import { promtool } from './tools';

// deploy/grafana/ollama-ring.json, the dashboard to import: its sections are there, every panel
// reads the dashboard's data source, every query parses as PromQL (each becomes a recording rule
// of a generated rules file that the real `promtool check rules` parses) and names only metrics
// the gateway exports. prometheus-e2e.test.ts runs the same queries against a real Prometheus.

describe('deploy/grafana/ollama-ring.json', () => {
  const d = readDashboard();

  it('has the sections an operator looks for, and well-formed panels', () => {
    expect(d.uid).toBe('ollama-ring');
    const rows = d.panels.filter((p) => p.type === 'row').map((p) => p.title);
    expect(rows).toEqual(['Pool overview', 'Per node', 'Per model', 'Queue', 'Errors']);
    const panels = allPanels(d);
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    for (const p of panels.filter((x) => x.type !== 'row')) {
      expect({ panel: p.title, datasource: p.datasource?.uid, queries: (p.targets ?? []).length > 0 }).toEqual({ panel: p.title, datasource: '${datasource}', queries: true });
      expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
    }
    expect(d.templating.list.map((v) => v.name)).toEqual(['datasource', 'instance']);
  });

  it('every query parses as PromQL (promtool check rules on a rules file made of them)', async () => {
    const queries = dashboardQueries(d);
    expect(queries.length).toBeGreaterThan(30);
    for (const q of queries) expect({ where: q.where, leftover: q.expr.match(/\$\S*/g) }).toEqual({ where: q.where, leftover: null });
    const dir = mkdtempSync(join(tmpdir(), 'ring-dashboard-'));
    try {
      const file = join(dir, 'dashboard-rules.yml');
      writeFileSync(file, dump({ groups: [{ name: 'dashboard', rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr })) }] }));
      const r = await promtool(['check', 'rules', file]);
      expect(r.stdout).toMatch(new RegExp(`SUCCESS: ${queries.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('names only metrics the gateway exports', () => {
    let h: GatewayHarness;
    beforeAll(async () => {
      h = await startGateway(LOAD_NODES, () => undefined, { routes: allRoutes });
    });
    afterAll(() => h.close());

    it('every metric of every query is in /metrics', async () => {
      const exported = exportedSeriesNames(await scrape(h.url));
      exported.add('up');
      for (const q of dashboardQueries(d)) {
        const names = metricNamesIn(q.expr);
        expect(names.length).toBeGreaterThan(0);
        expect({ where: q.where, missing: names.filter((n) => !exported.has(n)) }).toEqual({ where: q.where, missing: [] });
      }
    });
  });
});

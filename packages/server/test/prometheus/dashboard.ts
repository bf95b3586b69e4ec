import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './tools';

// The shipped Grafana dashboard (deploy/grafana/ollama-ring.json) as the tests read it: its panels
// and every PromQL query in it, with Grafana's variables replaced by what they stand for.

export interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}
export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
  gridPos: { h: number; w: number; x: number; y: number };
}
export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string }; datasource?: { uid: string } }[] };
}

export const DASHBOARD_FILE = join(REPO, 'deploy', 'grafana', 'ollama-ring.json');

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

/** Every panel, those inside collapsed rows included. */
export function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}

/**
 * Grafana's variables replaced by PromQL: the rate window by `window`, the gateway selector
 * (`$instance`, `${instance}`, a multi-value regex) by `.*`, as "All" selects.
 */
export function substitute(expr: string, window = '5m'): string {
  return expr
    .replace(/\$__rate_interval|\$__interval|\$__range|\$\{__rate_interval\}|\$\{__interval\}|\$\{__range\}/g, window)
    .replace(/\$\{instance(:[a-z]+)?\}|\$instance\b|\[\[instance\]\]/g, '.*');
}

/** Every query of the dashboard, where it is, as PromQL: panel targets and the variables' `label_values(metric, label)` (its metric). */
export function dashboardQueries(d: Dashboard, window = '5m'): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const p of allPanels(d)) for (const t of p.targets ?? []) out.push({ where: `panel ${p.id} "${p.title}" ${t.refId}`, expr: substitute(t.expr, window) });
  for (const v of d.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query.query;
    const m = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(q.trim());
    out.push({ where: `variable ${v.name}`, expr: m ? substitute(m[1], window) : substitute(q, window) });
  }
  return out;
}

// What the gateway exports, and what a PromQL expression reads, for the tests that check the
// alert rules and the Grafana dashboard name only real metrics.

/**
 * The series names a scrape can hold: each family from its `# TYPE` line (prom-client writes it
 * for every registered family, with samples or not), a histogram's as `_bucket`, `_sum`, `_count`.
 */
export function exportedSeriesNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m;
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    else if (type === 'summary') for (const s of ['', '_sum', '_count']) names.add(name + s);
    else names.add(name);
  }
  return names;
}

/**
 * The metric names a PromQL expression reads: every identifier with the gateway's prefix, and
 * Prometheus's own `up`. (Label names and functions never start with the prefix; the prefix is the
 * gateway's default, which the shipped rules and dashboard use.)
 */
export function metricNamesIn(expr: string): string[] {
  const names = [...expr.matchAll(/\b(ollama_lb_[a-zA-Z0-9_]+)/g)].map((m) => m[1]);
  if (/\bup\s*[{[]/.test(expr) || /\bup\s*(==|!=|>|<)/.test(expr)) names.push('up');
  return [...new Set(names)];
}

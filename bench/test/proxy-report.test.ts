import type { Measured } from '../src/proxy/measure';
import type { RequestsResult, StreamsResult } from '../src/proxy/protocol';
import { combineRounds, compareRows, goals, measuredRow, ratio, skippedRow, type TargetRow } from '../src/proxy/report';
import { ratiosTable, summaryTable } from '../src/proxy/tables';
import type { TargetName } from '../src/proxy/targets';

// The report's arithmetic on made-up measurements: CPU per request and per line, ratios, tables.

const pct = (p50Ms: number, p99Ms: number) => ({ count: 100, p50Ms, p90Ms: p99Ms, p99Ms, maxMs: p99Ms });

function measurement(name: TargetName, o: { rps: number; reqCpuPct: number; lineCpuPct: number; windowLines: number; ttft: [number, number] }) {
  const requests: Measured<RequestsResult> = {
    result: { kind: 'requests', completed: o.rps * 5, rps: o.rps, latency: pct(5, 10), errors: 0 },
    cpu: { proxyPct: o.reqCpuPct },
  };
  const streams: Measured<StreamsResult> = {
    result: { kind: 'streams', streams: 100, lines: 1600, windowLines: o.windowLines, ttft: pct(...o.ttft), gap: pct(20, 25), errors: 0 },
    cpu: { proxyPct: o.lineCpuPct },
  };
  return { name, requests, streams };
}

const direct = measurement('direct', { rps: 10_000, reqCpuPct: 0, lineCpuPct: 0, windowLines: 50_000, ttft: [20, 30] });

describe('bench:proxy report', () => {
  test('CPU per request and per streamed line come from the window CPU and its counts', () => {
    // 80% of a core at 4000 req/s is 200 µs a request; 50% of a core over 5 s for 50,000 lines is 50 µs a line.
    const m = measurement('ollama-ring-inline', { rps: 4000, reqCpuPct: 80, lineCpuPct: 50, windowLines: 50_000, ttft: [25, 60] });
    const row = measuredRow(m, direct, 5000);
    expect(row.proxyCpuUsPerRequest).toBe(200);
    expect(row.proxyCpuUsPerLine).toBe(50);
    expect(row).toMatchObject({ rps: 4000, ttftAddedP50Ms: 5, ttftAddedP99Ms: 30 });
    // No line in the window: no figure rather than a division by zero.
    const none = measuredRow(measurement('nginx', { rps: 1, reqCpuPct: 1, lineCpuPct: 1, windowLines: 0, ttft: [20, 30] }), direct, 5000);
    expect(none.proxyCpuUsPerLine).toBeNull();
  });

  test('rounds combine by their median, CPU per line included', () => {
    const rows = [40, 50, 90].map((lineCpuPct) =>
      measuredRow(measurement('ollama-ring-inline', { rps: 4000, reqCpuPct: 80, lineCpuPct, windowLines: 50_000, ttft: [25, 60] }), direct, 5000),
    );
    expect(combineRounds(rows).proxyCpuUsPerLine).toBe(50);
  });

  test('ratio: none against a missing, zero or negative reference, nor of a negative figure', () => {
    expect(ratio(300, 200)).toBe(1.5);
    expect(ratio(null, 200)).toBeNull();
    expect(ratio(300, null)).toBeNull();
    expect(ratio(300, 0)).toBeNull();
    expect(ratio(3, -1)).toBeNull();
    expect(ratio(-3, 1)).toBeNull();
  });

  const rowsOf = (previous: 'measured' | 'skipped'): TargetRow[] => {
    const mk = (name: TargetName, rps: number, reqCpuPct: number, lineCpuPct: number, ttft: [number, number]) =>
      measuredRow(measurement(name, { rps, reqCpuPct, lineCpuPct, windowLines: 50_000, ttft }), direct, 5000);
    return compareRows([
      mk('direct', 10_000, 0, 0, [20, 30]),
      mk('ollama-ring-inline', 4000, 80, 50, [25, 60]),
      skippedRow('nginx', 'nginx not found', 'looked on PATH'),
      mk('node-passthrough', 5000, 50, 40, [24, 50]),
      previous === 'measured' ? mk('ollama-ring-previous', 2000, 60, 60, [30, 90]) : skippedRow('ollama-ring-previous', 'no previous build (--baseline none)', ''),
    ]);
  };

  test('every row is compared with the passthrough and the previous build', () => {
    const rows = rowsOf('measured');
    const inline = rows.find((r) => r.name === 'ollama-ring-inline');
    // inline: 200 µs/req, 50 µs/line, 4000 req/s, +5/+30 ms; passthrough: 100, 40, 5000, +4/+20; previous: 300, 60, 2000, +10/+60.
    expect(inline?.ratios?.vsPassthrough).toEqual({ cpuPerRequest: 2, cpuPerLine: 1.25, rps: 0.8, ttftAddedP50: 1.25, ttftAddedP99: 1.5 });
    expect(inline?.ratios?.vsPrevious).toEqual({ cpuPerRequest: 0.667, cpuPerLine: 0.833, rps: 2, ttftAddedP50: 0.5, ttftAddedP99: 0.5 });
    // Direct spends no proxy CPU and adds no TTFT: 0× the passthrough's, not "no figure".
    expect(rows[0].ratios?.vsPassthrough).toMatchObject({ cpuPerRequest: 0, rps: 2, ttftAddedP50: 0 });
    expect(rows.find((r) => r.name === 'nginx')?.ratios).toEqual({ vsPassthrough: null, vsPrevious: null });
    expect(rowsOf('skipped')[1].ratios?.vsPrevious).toBeNull();
  });

  test('the summary and ratio tables show every target; the previous build is labelled with its commit', () => {
    const rows = rowsOf('measured');
    const labels = { 'ollama-ring-previous': 'HEAD~1 = abc1234' } as const;
    const summary = summaryTable(rows, 64, 200, labels);
    expect(summary).toMatch(/\| ollama-ring-inline +\| 200 µs +\| 50\.0 µs +\| 4000 +\| \+5\.00 ms +\| \+30\.00 ms +\|/);
    expect(summary).toContain('ollama-ring-previous (reference, HEAD~1 = abc1234)');
    expect(summary).toMatch(/\| nginx +\| skipped: nginx not found/);
    const ratios = ratiosTable(rows, labels);
    expect(ratios).toMatch(/\| ollama-ring-inline +\| ÷ node-passthrough +\| 2\.00× +\| 1\.25× +\| 0\.80× +\| 1\.25× +\| 1\.50× +\|/);
    expect(ratios).toMatch(/\| ollama-ring-inline +\| ÷ previous build +\| 0\.67× +\| 0\.83× +\| 2\.00× +\| 0\.50× +\| 0\.50× +\|/);
    // A reference is not compared with itself, and skipped targets and direct not at all.
    expect(ratios).not.toMatch(/node-passthrough \(reference\) +\| ÷ node-passthrough/);
    expect(ratios).not.toMatch(/\| (direct|nginx) /);
    const skipped = ratiosTable(rowsOf('skipped'));
    expect(skipped).toMatch(/\| ollama-ring-inline +\| ÷ previous build +\| – +\| – +\| – +\| – +\| – +\|/);
  });

  test('goals are set for the current gateway only, not for the references', () => {
    const g = goals(rowsOf('measured'), 200);
    expect(g.map((x) => x.what)).toEqual(['ollama-ring-inline req/s vs nginx', 'ollama-ring-inline added TTFT p99 at 200 streams']);
  });
});

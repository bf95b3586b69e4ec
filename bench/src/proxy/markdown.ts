/** The --md report: where and how it was measured, then the tables. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { MachineInfo } from '../common/machine';
import type { BaselineInfo } from './baseline';
import type { NginxInfo } from './nginx';
import type { BenchSettings } from './settings';

export interface MarkdownInput {
  machine: MachineInfo;
  command: string;
  settings: BenchSettings;
  loadBeforePct: number | undefined;
  nginx: NginxInfo;
  baseline: BaselineInfo;
  maxInFlight: number;
  tables: string;
}

export function markdownReport(m: MarkdownInput): string {
  const s = m.settings;
  const streamMs = (s.tokens * 1000) / s.streamTokensPerSec;
  const nginx =
    'skipped' in m.nginx
      ? 'nginx: not installed, skipped.'
      : `nginx: ${m.nginx.version} (${m.nginx.binary}), \`worker_processes ${m.nginx.workerProcesses}\`, ` +
        `\`upstream { least_conn; keepalive ${m.nginx.keepalive}; }\`, HTTP/1.1 upstream, \`proxy_buffering off\`, access_log off.`;
  const b = m.baseline;
  const previous =
    'sha' in b
      ? `ollama-ring-previous (reference): the previous build, \`${b.ref}\` = ${b.sha.slice(0, 12)} "${b.subject}", checked out in a git ` +
        `worktree, installed with its own lockfile and built with its own \`tsc -b\`; the same harness as ollama-ring-inline ` +
        `(dispatch inline), its balancer and gateway.`
      : `ollama-ring-previous: skipped, ${b.skipped}.`;
  return `# bench:proxy

- Date: ${m.machine.date}
- Machine: ${m.machine.cpu}, ${m.machine.cores} cores, ${m.machine.memoryGiB} GiB, ${m.machine.platform}, Node ${m.machine.node}
- Command: \`${m.command}\`
- Machine load just before the run: ${m.loadBeforePct === undefined ? 'unknown' : `${m.loadBeforePct.toFixed(0)}% of a core`}

How it is measured:
- The sim (one node), the proxy under test and the load generator (undici, HDR histograms) each run in their own
  process, but share the ${m.machine.cores} cores, with each other and with whatever else runs on the machine.
  CPU columns are % of one core: "irq" is the kernel's (loopback network) work, "other" is processes outside the
  bench. A run during which "other" exceeded ${s.maxOtherPct}% was measured again (up to ${s.retries} times) and the least
  disturbed attempt kept. Ratios within the run are what count.
- ${s.rounds} round(s); each measures direct first, then every proxy, ${s.warmupMs} ms warm-up + ${s.measureMs} ms measured per
  run; the figures are medians over the rounds. "Added" is the proxy's figure minus direct's in the same round.
- Non-streaming: \`POST /api/generate\` with \`stream: false\`, ${s.connections} connections in a closed loop, ${s.tokens}-token answers
  generated instantly (no load, no prefill, no token delay).
- Streams: ${s.streams} concurrent NDJSON streams of ${s.tokens} tokens at ${s.streamTokensPerSec} tokens/s, their starts spread over one
  stream's length (${streamMs} ms). TTFT is request sent → first token line, and includes the sim's one token interval
  (${1000 / s.streamTokensPerSec} ms) for every target alike; the gap is between consecutive token lines of a stream.
- ollama-ring: the real \`Gateway\` over \`PipelineFactory\`, default config but one node with ${m.maxInFlight} slots,
  \`maxGlobalInFlight\` ${m.maxInFlight}, health checks hourly, request log off.
- ${nginx}
- node-passthrough (reference): node:http → undici Pool with no parsing or scheduling: what any Node proxy pays here.
- ${previous}
- ollama-ring-metrics-worker (reference): this build with \`disruptor.metricsPlacement: worker\`, the completion/metrics
  stage on a thread of its own instead of inline: the other placement, measured against the default.
- CPU/req is the proxy's CPU time in the non-streaming window ÷ requests completed in it; CPU/line the proxy's CPU
  time in the streaming window ÷ NDJSON token lines received in it.

${m.tables}
`;
}

/** Writes `text` relative to where the user typed the command, as writeJson does. */
export function writeText(file: string, text: string): string {
  const path = resolve(process.env.INIT_CWD ?? process.cwd(), file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

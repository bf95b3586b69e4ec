/** `ollama-ring batch status|list|cancel|results`: the jobs on a gateway, through its Batch API. */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { BatchObject, ResultLine } from '../batch/types';
import { COMMON_OPTIONS, intFlag, parseCommandArgs, positiveFlag } from './args';
import { BatchClient, gatewayUrl } from './batch-remote';
import { renderTable } from './table';
import { type CliIo, EXIT_FAILURE, EXIT_OK, UsageError } from './types';
import { packageVersion } from './version';

export const JOBS_USAGE = `       ollama-ring batch status ID --url URL [--api-key K] [--json]
       ollama-ring batch list --url URL [--api-key K] [--limit N] [--json]
       ollama-ring batch cancel ID --url URL [--api-key K]
       ollama-ring batch results ID --url URL [--api-key K] [--output FILE] [--errors FILE]

status, list and cancel print a gateway's jobs (--json: the API's objects). results writes a job's
output file and then its error file to stdout or --output, or its failed lines to --errors.
--api-key defaults to $OLLAMA_RING_API_KEY; --url to http://127.0.0.1:8080.
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  url: { type: 'string' },
  'api-key': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  limit: { type: 'string' },
  output: { type: 'string', short: 'o' },
  errors: { type: 'string' },
} as const;

const when = (sec: number | null): string => (sec === null ? '-' : new Date(sec * 1000).toISOString().replace(/\.\d+Z$/, 'Z'));

/** One job, a few lines. */
export function formatBatch(b: BatchObject): string {
  const c = b.request_counts;
  const lines = [
    `${b.id}  ${b.status}  ${b.endpoint}`,
    `  requests:  ${c.total} total, ${c.completed} completed, ${c.failed} failed`,
    `  created:   ${when(b.created_at)}`,
    ...(b.in_progress_at !== null ? [`  started:   ${when(b.in_progress_at)}`] : []),
    ...((b.completed_at ?? b.cancelled_at ?? b.failed_at ?? b.expired_at) ? [`  ended:     ${when(b.completed_at ?? b.cancelled_at ?? b.failed_at ?? b.expired_at)}`] : []),
    `  input:     ${b.input_file_id}`,
    `  output:    ${b.output_file_id ?? '-'}`,
    `  errors:    ${b.error_file_id ?? '-'}`,
    ...(b.errors?.data ?? []).map((e) => `  ! ${e.message}`),
  ];
  return lines.join('\n') + '\n';
}

/** Runs one of the job subcommands. */
export async function jobsCommand(sub: string, argv: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parseCommandArgs(argv, OPTIONS, sub === 'list' ? 0 : 1);
  if (v.help) return (io.out(`Usage: ${JOBS_USAGE.trimStart()}`), EXIT_OK);
  if (v.version) return (io.out(`${packageVersion()}\n`), EXIT_OK);
  const id = positionals[0];
  if (sub !== 'list' && id === undefined) throw new UsageError(`batch ${sub} needs the batch's ID`);
  if (sub !== 'results' && (v.output !== undefined || v.errors !== undefined)) throw new UsageError('--output and --errors are for batch results');
  const timeoutMs = (positiveFlag(v.timeout, '--timeout') ?? 30) * 1000;
  const client = new BatchClient(gatewayUrl(v.url ?? 'http://127.0.0.1:8080'), v['api-key'] ?? io.env.OLLAMA_RING_API_KEY, timeoutMs);
  const print = (b: BatchObject) => io.out(v.json ? JSON.stringify(b, null, 2) + '\n' : formatBatch(b));
  if (sub === 'status') return (print(await client.getBatch(id!)), EXIT_OK);
  if (sub === 'cancel') return (print(await client.cancel(id!)), EXIT_OK);
  if (sub === 'list') {
    const list = await client.listBatches(intFlag(v.limit, '--limit', 1, 100) ?? 20);
    if (v.json) return (io.out(JSON.stringify(list, null, 2) + '\n'), EXIT_OK);
    const rows = list.data.map((b) => [b.id, b.status, b.endpoint, `${b.request_counts.completed}/${b.request_counts.failed}/${b.request_counts.total}`, when(b.created_at)]);
    io.out(renderTable(['ID', 'STATUS', 'ENDPOINT', 'DONE/FAILED/TOTAL', 'CREATED'], rows, ['left', 'left', 'left', 'right', 'left']));
    if (list.has_more) io.out('(more: --limit N shows up to 100)\n');
    return EXIT_OK;
  }
  return results(client, id!, v.output, v.errors, io);
}

/** Writes a job's result files. */
async function results(client: BatchClient, id: string, output: string | undefined, errors: string | undefined, io: CliIo): Promise<number> {
  const b = await client.getBatch(id);
  if (!b.output_file_id && !b.error_file_id) {
    io.err(
      `batch ${id} is ${b.status} and has no results${['validating', 'in_progress', 'finalizing', 'cancelling'].includes(b.status) ? ' yet (its files appear once it ends)' : ''}\n`,
    );
    return b.status === 'failed' ? EXIT_FAILURE : EXIT_OK;
  }
  const files: WriteStream[] = [];
  const sink = (path: string | undefined): ((t: string) => Promise<void>) => {
    if (path === undefined) return async (t) => io.out(t);
    const s = createWriteStream(path);
    files.push(s);
    return (t) => new Promise<void>((resolve, reject) => (s.write(t) ? resolve() : s.once('drain', resolve).once('error', reject)));
  };
  const out = sink(output);
  const err = errors !== undefined && errors !== output ? sink(errors) : out;
  try {
    for (const [fileId, to] of [
      [b.output_file_id, out],
      [b.error_file_id, err],
    ] as const) {
      if (fileId) await client.eachResult(fileId, (line: ResultLine) => to(JSON.stringify(line) + '\n'));
    }
  } finally {
    await Promise.all(files.map((s) => new Promise<void>((resolve) => s.end(resolve))));
  }
  io.err(`batch ${id}: ${b.status}, ${b.request_counts.completed} completed, ${b.request_counts.failed} failed\n`);
  return EXIT_OK;
}

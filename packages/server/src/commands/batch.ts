/**
 * `ollama-ring batch`: run a batch of requests (a JSONL file of OpenAI batch lines, or one request
 * per file of a directory) embedded over a pool or through a gateway's Batch API, and look after
 * the jobs on a gateway (status, list, cancel, results).
 */
import { type BalancerConfig, ConfigError } from '@ollama-ring/balancer';
import { jsonlLines, inputLines, validateInput } from '../batch/input';
import { BATCH_ENDPOINTS } from '../batch/types';
import { COMMON_OPTIONS, intFlag, parseCommandArgs, positiveFlag } from './args';
import { DEFAULT_DIR_ENDPOINT, DIR_ENDPOINTS, type DirEndpoint, type DirItem, dirItems, matchingFiles, parseOptions } from './batch-dir';
import { jobsCommand, JOBS_USAGE } from './batch-jobs';
import { runLocal } from './batch-local';
import { BatchOutput, Progress } from './batch-output';
import { BatchClient, GatewayCallError, gatewayUrl, type RunOutcome, runRemote } from './batch-remote';
import { composeConfig } from './serve-config';
import { type CliIo, type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './types';
import { packageVersion } from './version';

/** The exit status of a run that Ctrl-C stopped (128 + SIGINT, as shells report it). */
export const EXIT_INTERRUPTED = 130;
const DEFAULT_MAX_FILE_BYTES = 1024 * 1024;

const USAGE = `Usage: ollama-ring batch run INPUT.jsonl --output OUT.jsonl [options]
       ollama-ring batch run --dir DIR --model M --prompt TEXT --output OUT.jsonl [options]
${JOBS_USAGE}
Runs every line of a batch and writes one result line per input line, in OpenAI's batch output
shape: {"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}.
INPUT.jsonl holds OpenAI batch lines ({"custom_id", "method": "POST", "url", "body"}), all with
the same url, one of: ${Object.keys(BATCH_ENDPOINTS).join(', ')}.

Without --url the lines run here, over the pool of --config (no gateway needed), as requests of
class batch; with --url they run as one job on that gateway's Batch API (uploaded, polled, and its
output and error files downloaded).

Ctrl-C stops cleanly: no new line starts and the running ones finish (a second Ctrl-C aborts them;
with --url, the gateway's job is cancelled). The output holds only whole lines, and running the
same command again with the same --output resumes: lines whose custom_id is already written (in
--output or --errors) are skipped. To run the failed lines again, use --errors FILE and delete
FILE before running again.

Options of run:
  -o, --output FILE      where result lines go (appended; created if absent). Required
      --errors FILE      failed lines (non-2xx, or an error) go here instead of --output
  -c, --config FILE      the pool to run on (embedded); as for serve. Default: OLLAMA_RING_CONFIG,
                         or the local Ollama at 127.0.0.1:11434
      --hosts FILE       hosts.txt whose nodes replace the config's (embedded)
      --concurrency N    lines running at once (embedded; default batch.concurrency, or the
                         pool's slot count)
      --url URL          run on this gateway's Batch API instead
      --api-key K        the gateway's API key (default: $OLLAMA_RING_API_KEY)
      --timeout S        seconds to wait for each gateway call (default 30)
Directory job (one request per file; custom_id = the file's path relative to DIR):
      --dir DIR          the directory
      --pattern GLOB     files to take, relative to DIR: * ? {a,b}, ** for any depth
                         (default '**/*')
      --model M          the model. Required
      --prompt TEXT      the prompt; {{content}} is the file's text, {{path}} its relative path;
                         without {{content}} the text is appended after a blank line. Required
      --endpoint PATH    ${DIR_ENDPOINTS.join(' | ')} (default ${DEFAULT_DIR_ENDPOINT})
      --option K=V       a model option (num_ctx=4096, temperature=0.2; repeatable): in "options"
                         for /api/*, a top-level field for /v1/*
      --max-file-bytes N a larger file gets an error line (file_too_large), not a request
                         (default ${DEFAULT_MAX_FILE_BYTES})
  -h, --help             show this help
  -V, --version          print the version

Progress goes to stderr: on a terminal one line redrawn in place (done/total, failed, req/s,
tokens/s, ETA), otherwise a line every 5 s. Exit status: 0 every line answered 2xx, 1 some lines
failed (their result lines say why) or the run could not go on, 2 bad usage or input, 130
stopped by Ctrl-C (run again to resume).
`;

const RUN_OPTIONS = {
  ...COMMON_OPTIONS,
  output: { type: 'string', short: 'o' },
  errors: { type: 'string' },
  config: { type: 'string', short: 'c' },
  hosts: { type: 'string' },
  concurrency: { type: 'string' },
  url: { type: 'string' },
  'api-key': { type: 'string' },
  timeout: { type: 'string' },
  dir: { type: 'string' },
  pattern: { type: 'string' },
  model: { type: 'string' },
  prompt: { type: 'string' },
  endpoint: { type: 'string' },
  option: { type: 'string', multiple: true },
  'max-file-bytes': { type: 'string' },
} as const;

export const batchCommand: Command = {
  name: 'batch',
  summary: 'run a batch (a JSONL file or a directory of files), here or on a gateway; manage gateway jobs',
  usage: USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub === undefined) return (io.err(`ollama-ring batch: no batch command given\n\n${USAGE}`), EXIT_USAGE);
    if (sub === '--help' || sub === '-h') return (io.out(USAGE), EXIT_OK);
    if (sub === '--version' || sub === '-V') return (io.out(`${packageVersion()}\n`), EXIT_OK);
    try {
      if (sub === 'run') return await runCommand(rest, io);
      if (['status', 'list', 'cancel', 'results'].includes(sub)) return await jobsCommand(sub, rest, io);
    } catch (e) {
      if (e instanceof GatewayCallError) return (io.err(`ollama-ring batch ${sub}: ${e.message}\n`), EXIT_FAILURE);
      throw e;
    }
    throw new UsageError(`unknown batch command '${sub}' (run, status, list, cancel, results)`);
  },
};

/** What a run sends: its lines (those not yet written), how many, and the endpoint they call. */
interface Source {
  items: AsyncIterable<DirItem>;
  total: number;
  skipped: number;
  endpoint: string;
}

async function runCommand(argv: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parseCommandArgs(argv, RUN_OPTIONS, 1);
  if (v.help) return (io.out(USAGE), EXIT_OK);
  if (v.version) return (io.out(`${packageVersion()}\n`), EXIT_OK);
  const input = positionals[0];
  if (v.output === undefined) throw new UsageError('--output FILE is required');
  if ((input === undefined) === (v.dir === undefined)) throw new UsageError('give either an INPUT.jsonl or --dir DIR');
  if (v.url !== undefined && (v.config !== undefined || v.hosts !== undefined || v.concurrency !== undefined)) {
    throw new UsageError("--config, --hosts and --concurrency are for embedded runs; with --url the gateway's own pool and batch.concurrency apply");
  }
  const concurrency = intFlag(v.concurrency, '--concurrency', 1, 100_000);
  const timeoutMs = (positiveFlag(v.timeout, '--timeout') ?? 30) * 1000;
  const client = v.url !== undefined ? new BatchClient(gatewayUrl(v.url), v['api-key'] ?? io.env.OLLAMA_RING_API_KEY, timeoutMs) : undefined;
  // Read the pool before opening anything, so that a config error leaves no file behind.
  let config: BalancerConfig | undefined;
  if (!client) {
    try {
      config = composeConfig({ config: v.config, hosts: v.hosts }, io.env).config;
    } catch (e) {
      if (e instanceof ConfigError) return (io.err(`ollama-ring batch: ${e.message}\n`), EXIT_USAGE);
      throw e;
    }
  }
  const output = await BatchOutput.open(v.output, v.errors);
  const interrupt = onInterrupt(io);
  try {
    const src = input !== undefined ? await jsonlSource(input, output, v) : await dirSource(v, output);
    const progress = new Progress(io, src.total, src.skipped);
    progress.start();
    let outcome: RunOutcome;
    try {
      outcome = client
        ? await runRemote({ client, items: src.items, endpoint: src.endpoint, output, progress, io, stop: interrupt.stop, abort: interrupt.abort })
        : await runLocal({
            config: config!,
            items: src.items,
            output,
            progress,
            concurrency:
              concurrency ||
              config!.batch.concurrency ||
              Math.max(
                1,
                config!.nodes.reduce((n, x) => n + x.maxConcurrentRequests, 0),
              ),
            stop: interrupt.stop,
            abort: interrupt.abort,
          });
    } finally {
      progress.finish();
    }
    if (outcome.rejected) return EXIT_USAGE;
    const where = v.errors !== undefined ? `${v.output} (failed lines: ${v.errors})` : v.output;
    const earlier = src.skipped > 0 ? `, ${src.skipped} skipped (written by an earlier run)` : '';
    io.err(`batch: ${outcome.completed} answered, ${outcome.failed} failed${earlier} -> ${where}\n`);
    if (outcome.stopped || interrupt.stop.aborted) {
      io.err(`batch: stopped before the end; run the same command again to resume\n`);
      return EXIT_INTERRUPTED;
    }
    return outcome.failed > 0 ? EXIT_FAILURE : EXIT_OK;
  } finally {
    interrupt.dispose();
    await output.close();
  }
}

type RunValues = ReturnType<typeof parseCommandArgs<typeof RUN_OPTIONS>>['values'];

/** The lines of a JSONL input, checked whole first (as a gateway checks an upload). */
async function jsonlSource(path: string, output: BatchOutput, v: RunValues): Promise<Source> {
  for (const flag of ['pattern', 'model', 'prompt', 'endpoint', 'option', 'max-file-bytes'] as const) {
    if (v[flag] !== undefined) throw new UsageError(`--${flag} is for --dir jobs; an INPUT.jsonl's lines carry their own requests`);
  }
  let endpoint = '/v1/chat/completions';
  try {
    for await (const { text } of jsonlLines(path)) {
      const url = (JSON.parse(text) as { url?: unknown }).url;
      if (typeof url === 'string') endpoint = url;
      break;
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined) throw new UsageError(`cannot read ${path}: ${code}`);
    // A first line that is not JSON: validation below says so, with its line number.
  }
  const check = await validateInput(path, endpoint);
  if (check.errors.length > 0) {
    const listed = check.errors.slice(0, 10).map((e) => `  ${e.message}`);
    const more = check.errorCount - listed.length;
    throw new UsageError(`${path} is not a valid batch input:\n${listed.join('\n')}${more > 0 ? `\n  … and ${more} more` : ''}`);
  }
  let skipped = 0;
  for await (const line of inputLines(path, endpoint)) if (output.has(line.custom_id)) skipped++;
  async function* items(): AsyncGenerator<DirItem> {
    for await (const line of inputLines(path, endpoint)) if (!output.has(line.custom_id)) yield { line };
  }
  return { items: items(), total: check.total - skipped, skipped, endpoint };
}

/** One line per matching file of `--dir`. */
async function dirSource(v: RunValues, output: BatchOutput): Promise<Source> {
  if (v.model === undefined || v.model.trim() === '') throw new UsageError('--model is required with --dir');
  if (v.prompt === undefined) throw new UsageError('--prompt is required with --dir');
  const endpoint = (v.endpoint ?? DEFAULT_DIR_ENDPOINT) as DirEndpoint;
  if (!DIR_ENDPOINTS.includes(endpoint)) throw new UsageError(`--endpoint must be one of ${DIR_ENDPOINTS.join(', ')}, got '${endpoint}'`);
  const job = {
    dir: v.dir!,
    pattern: v.pattern ?? '**/*',
    model: v.model,
    prompt: v.prompt,
    endpoint,
    options: parseOptions(v.option ?? []),
    maxFileBytes: intFlag(v['max-file-bytes'], '--max-file-bytes', 1, Number.MAX_SAFE_INTEGER) ?? DEFAULT_MAX_FILE_BYTES,
  };
  const files = await matchingFiles(job.dir, job.pattern);
  if (files.length === 0) throw new UsageError(`no file under ${job.dir} matches '${job.pattern}'`);
  const todo = files.filter((f) => !output.has(f));
  return { items: dirItems(job, todo), total: todo.length, skipped: files.length - todo.length, endpoint };
}

/** Ctrl-C (or SIGTERM): the first stops, the second aborts, a third exits at once. */
function onInterrupt(io: CliIo): { stop: AbortSignal; abort: AbortSignal; dispose(): void } {
  const stop = new AbortController();
  const abort = new AbortController();
  const on = (sig: NodeJS.Signals): void => {
    if (!stop.signal.aborted) {
      io.err(`\nbatch: ${sig}: no new line starts; the running ones finish (Ctrl-C again aborts them)\n`);
      stop.abort();
    } else if (!abort.signal.aborted) {
      io.err(`\nbatch: ${sig} again: aborting the running lines\n`);
      abort.abort();
    } else process.exit(EXIT_INTERRUPTED);
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return {
    stop: stop.signal,
    abort: abort.signal,
    dispose: () => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
    },
  };
}

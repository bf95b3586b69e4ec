/**
 * `ollama-ring workflow validate|run|graph`: YAML task graphs of LLM calls, checked before anything
 * runs, then run here over a pool (the workflow's own, `--config`'s, or the environment's) or on a
 * gateway (`--url`), with a live view, a results file, and `--resume`.
 */
import { readFile } from 'node:fs/promises';
import {
  type BalancerConfig,
  checkWorkflow,
  ConfigError,
  graphMermaid,
  graphText,
  loadConfig,
  loadWorkflowFile,
  type ModelCatalog,
  PipelineFactory,
  poolCatalog,
  type RequestClass,
  resolveVars,
  type RunResults,
  StrategyFactory,
  VAR_ENV_PREFIX,
  type Workflow,
  WorkflowError,
  WorkflowRunner,
} from '@ollama-ring/balancer';
import { writeAtomic } from '../batch/disk';
import { COMMON_OPTIONS, intFlag, parseCommandArgs } from './args';
import { GatewayCallError, gatewayUrl } from './batch-remote';
import { composeConfig } from './serve-config';
import { type CliIo, type Command, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError } from './types';
import { packageVersion } from './version';
import { WorkflowClient } from './workflow-remote';
import { WorkflowView } from './workflow-view';

/** The exit status of a cancelled run (128 + SIGINT, as shells report it). */
const EXIT_CANCELLED = 130;

const USAGE = `Usage: ollama-ring workflow validate FILE [--var K=V]... [--config FILE | --hosts FILE | --url URL]
       ollama-ring workflow run FILE [--var K=V]... [--config FILE | --hosts FILE | --url URL]
                                     [--output RESULTS.json] [--resume RESULTS.json] [options]
       ollama-ring workflow graph FILE [--mermaid]

A workflow is a YAML file of tasks (LLM calls: llm/chat, llm/generate, llm/embed) that may read
each other's answers ({{ tasks.<id>.output }}, {{ tasks.<id>.json.<path> }}) and variables
(\${name}). See docs/workflows.md for the format.

validate  checks the file (schema, graph, variables) and, given a pool, that some node has each
          model; each problem is named by its key and line.
run       checks, then runs each task as soon as the tasks it needs have ended, through the
          balancer (here, over the pool) or a gateway (--url). The pool: --config/--hosts, else the
          workflow's own (pool: or providers.ollama.instances), else OLLAMA_RING_CONFIG or the
          local Ollama. Ctrl-C cancels: no task starts and the running ones are aborted (a second
          Ctrl-C exits at once).
graph     prints the task graph as text, or in Mermaid's syntax with --mermaid.

Options:
      --var K=V          a variable's value (repeatable); beats ${VAR_ENV_PREFIX}K from the
                         environment, which beats the file's vars:. A JSON list or object is one
  -c, --config FILE      the pool to run on; as for serve
      --hosts FILE       hosts.txt whose nodes replace the config's
      --url URL          run on this gateway's workflow API instead (POST /api/workflows)
      --api-key K        the gateway's API key (default: $OLLAMA_RING_API_KEY)
  -o, --output FILE      the results file (JSON: each task's status, output, node, timings,
                         tokens, attempts), rewritten as tasks end. Default: --resume's file,
                         else the results go to stdout at the end
      --resume FILE      the results of an earlier run: its succeeded tasks are kept, the others
                         run again with the same variables (no --var with it)
      --concurrency N    requests in flight at once (default: the file's concurrency, else the
                         pool's slot count)
      --class C          interactive or batch: the requests' class (default: the file's class,
                         else interactive)
      --mermaid          graph: Mermaid instead of text
  -h, --help             show this help
  -V, --version          print the version

On a terminal the tasks are redrawn in place (state, node, elapsed); otherwise a line per task that
starts or ends goes to stderr. Exit status: 0 every task succeeded (or was skipped by its
condition), 1 a task failed, 2 the workflow or the command line has errors, 130 cancelled.
`;

const OPTIONS = {
  ...COMMON_OPTIONS,
  var: { type: 'string', multiple: true },
  config: { type: 'string', short: 'c' },
  hosts: { type: 'string' },
  url: { type: 'string' },
  'api-key': { type: 'string' },
  output: { type: 'string', short: 'o' },
  resume: { type: 'string' },
  concurrency: { type: 'string' },
  class: { type: 'string' },
  mermaid: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseCommandArgs<typeof OPTIONS>>['values'];

export const workflowCommand: Command = {
  name: 'workflow',
  summary: 'validate, run (here or on a gateway) or draw a YAML workflow of LLM tasks',
  usage: USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub === undefined) return (io.err(`ollama-ring workflow: no workflow command given\n\n${USAGE}`), EXIT_USAGE);
    if (sub === '--help' || sub === '-h') return (io.out(USAGE), EXIT_OK);
    if (sub === '--version' || sub === '-V') return (io.out(`${packageVersion()}\n`), EXIT_OK);
    if (!['validate', 'run', 'graph'].includes(sub)) throw new UsageError(`unknown workflow command '${sub}' (validate, run, graph)`);
    const { values: v, positionals } = parseCommandArgs(rest, OPTIONS, 1);
    if (v.help) return (io.out(USAGE), EXIT_OK);
    if (v.version) return (io.out(`${packageVersion()}\n`), EXIT_OK);
    const file = positionals[0];
    if (file === undefined) throw new UsageError(`workflow ${sub} needs a FILE`);
    if (v.url !== undefined && (v.config !== undefined || v.hosts !== undefined))
      throw new UsageError('--config and --hosts are for runs here; with --url the gateway’s pool applies');
    try {
      const wf = loadWorkflowFile(file);
      if (sub === 'graph') checkWorkflow(wf, resolveVars(wf, flagVars(v), io.env));
      if (sub === 'graph') return (io.out(v.mermaid ? graphMermaid(wf) : graphText(wf)), EXIT_OK);
      if (sub === 'validate') return await validate(wf, v, io);
      return await run(wf, file, v, io);
    } catch (e) {
      if (e instanceof WorkflowError || e instanceof ConfigError) return (io.err(`ollama-ring workflow: ${e.message}\n`), EXIT_USAGE);
      if (e instanceof GatewayCallError) return (io.err(`ollama-ring workflow: ${e.message}\n`), EXIT_FAILURE);
      throw e;
    }
  },
};

/** `--var K=V` flags as an object. */
function flagVars(v: Values): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of v.var ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--var must be K=V, got '${kv}'`);
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/** The pool a run here uses, or undefined when nothing names one (validate then skips the model check). */
function poolConfig(wf: Workflow, v: Values, io: CliIo, required: boolean): BalancerConfig | undefined {
  if (v.config !== undefined || v.hosts !== undefined) return composeConfig({ config: v.config, hosts: v.hosts }, io.env).config;
  if (wf.pool) {
    try {
      return loadConfig(wf.pool, { env: {}, strategies: StrategyFactory.accepts }).config;
    } catch (e) {
      if (e instanceof ConfigError) throw new WorkflowError(`${wf.file ?? 'the workflow'}: its pool is not a valid node list (keys are as in a config file)`, e.issues);
      throw e;
    }
  }
  if (!required && io.env.OLLAMA_RING_CONFIG === undefined && io.env.OLLAMA_RING_NODES === undefined) return undefined;
  return composeConfig({}, io.env).config;
}

async function validate(wf: Workflow, v: Values, io: CliIo): Promise<number> {
  const vars = resolveVars(wf, flagVars(v), io.env);
  let catalog: ModelCatalog | undefined;
  let factory: PipelineFactory | undefined;
  try {
    if (v.url !== undefined) catalog = await new WorkflowClient(gatewayUrl(v.url), v['api-key'] ?? io.env.OLLAMA_RING_API_KEY).catalog();
    else {
      const config = poolConfig(wf, v, io, false);
      if (config) {
        factory = await PipelineFactory.fromConfig(config).start();
        catalog = poolCatalog(factory.getNodeRegistry().getAllNodes());
      }
    }
    checkWorkflow(wf, vars, catalog);
  } finally {
    await factory?.stop(1_000);
  }
  const models = catalog ? `models checked against ${catalog.describe}` : 'models not checked (no pool given: --config, --hosts, --url or the file’s pool)';
  io.out(`${wf.file}: ok: ${wf.tasks.length} tasks; ${models}\n`);
  return EXIT_OK;
}

async function run(wf: Workflow, file: string, v: Values, io: CliIo): Promise<number> {
  const previous = v.resume !== undefined ? await readResults(v.resume) : undefined;
  if (previous && v.var !== undefined) throw new UsageError('--resume runs again with the variables of the earlier run; --var cannot change them');
  if (previous && previous.workflow !== wf.name) throw new UsageError(`${v.resume} holds the results of workflow '${previous.workflow}', not '${wf.name}'`);
  const requestClass = v.class === undefined ? undefined : v.class === 'interactive' || v.class === 'batch' ? (v.class as RequestClass) : undefined;
  if (v.class !== undefined && requestClass === undefined) throw new UsageError(`--class must be interactive or batch, got '${v.class}'`);
  const concurrency = intFlag(v.concurrency, '--concurrency', 1, 100_000);
  const output = v.output ?? v.resume;
  const view = new WorkflowView(io, wf);
  let results: RunResults;
  if (v.url !== undefined) {
    const client = new WorkflowClient(gatewayUrl(v.url), v['api-key'] ?? io.env.OLLAMA_RING_API_KEY);
    const envVars = Object.fromEntries(
      Object.entries(io.env)
        .filter(([k]) => k.startsWith(VAR_ENV_PREFIX))
        .map(([k, x]) => [k.slice(VAR_ENV_PREFIX.length), x]),
    );
    const body = { workflow: await readFile(file, 'utf8'), vars: { ...envVars, ...flagVars(v) }, concurrency, class: requestClass, resume: previous };
    results = await runRemote(client, body, view, output);
  } else {
    const vars = previous?.vars ?? resolveVars(wf, flagVars(v), io.env);
    // The graph and variables first: a mistake there needs no pool.
    checkWorkflow(wf, vars);
    const config = poolConfig(wf, v, io, true)!;
    const factory = await PipelineFactory.fromConfig(config).start();
    try {
      checkWorkflow(wf, vars, poolCatalog(factory.getNodeRegistry().getAllNodes()));
      const slots = factory
        .getNodeRegistry()
        .getAllNodes()
        .reduce((n, x) => n + x.maxConcurrent, 0);
      const runner = new WorkflowRunner(wf, {
        pipeline: () => factory.getPipeline(),
        vars,
        concurrency: concurrency ?? wf.concurrency ?? Math.max(1, slots),
        requestClass,
        previous,
        metrics: config.metrics.enabled ? factory.getMetricsRegistry().metrics.workflow : undefined,
      });
      results = await runLocal(runner, view, output);
    } finally {
      await factory.stop(1_000);
    }
  }
  view.finish(results, output);
  if (output === undefined) io.out(JSON.stringify(results, null, 2) + '\n');
  return results.status === 'succeeded' ? EXIT_OK : results.status === 'cancelled' ? EXIT_CANCELLED : EXIT_FAILURE;
}

async function readResults(path: string): Promise<RunResults> {
  let r: RunResults;
  try {
    r = JSON.parse(await readFile(path, 'utf8')) as RunResults;
  } catch (e) {
    throw new UsageError(`--resume ${path}: ${(e as NodeJS.ErrnoException).code ?? 'not JSON'}`);
  }
  if (typeof r !== 'object' || r === null || typeof r.tasks !== 'object' || typeof r.vars !== 'object') throw new UsageError(`--resume ${path} is not a workflow results file`);
  return r;
}

/** Writes the results as they change (one write at a time, the newest winning). */
function resultsWriter(path: string | undefined): { write(r: RunResults): void; flush(): Promise<void> } {
  let busy: Promise<void> = Promise.resolve();
  let pending: string | undefined;
  let writing = false;
  const drain = async () => {
    writing = true;
    while (pending !== undefined) {
      const text = pending;
      pending = undefined;
      await writeAtomic(path!, text);
    }
    writing = false;
  };
  return {
    write(r) {
      if (path === undefined) return;
      pending = JSON.stringify(r, null, 2) + '\n';
      if (!writing) busy = drain();
    },
    flush: () => busy,
  };
}

/** Ctrl-C (or SIGTERM) cancels; a second one exits at once. */
function onInterrupt(cancel: () => void, note: (t: string) => void): () => void {
  let once = false;
  const on = (sig: NodeJS.Signals): void => {
    if (once) process.exit(EXIT_CANCELLED);
    once = true;
    note(`workflow: ${sig}: cancelling (no task starts; the running ones are aborted). Again to exit at once`);
    cancel();
  };
  process.on('SIGINT', on);
  process.on('SIGTERM', on);
  return () => {
    process.off('SIGINT', on);
    process.off('SIGTERM', on);
  };
}

async function runLocal(runner: WorkflowRunner, view: WorkflowView, output: string | undefined): Promise<RunResults> {
  const writer = resultsWriter(output);
  runner.on('change', (r) => {
    view.update(r);
    writer.write(r);
  });
  const dispose = onInterrupt(
    () => runner.cancel('cancelled by a signal'),
    (t) => view.note(t),
  );
  view.start();
  try {
    const r = await runner.run();
    writer.write(r);
    await writer.flush();
    return r;
  } finally {
    dispose();
  }
}

async function runRemote(client: WorkflowClient, body: Record<string, unknown>, view: WorkflowView, output: string | undefined, pollMs = 300): Promise<RunResults> {
  const writer = resultsWriter(output);
  let run = await client.start(body);
  view.note(`workflow run ${run.id} started on ${client.base}; Ctrl-C cancels it`);
  let cancelling = false;
  const dispose = onInterrupt(
    () => void (cancelling = true),
    (t) => view.note(t),
  );
  view.start();
  try {
    let cancelSent = false;
    while (run.status === 'running') {
      if (cancelling && !cancelSent) {
        cancelSent = true;
        await client.cancel(run.id);
      }
      await new Promise((r) => setTimeout(r, pollMs));
      run = await client.get(run.id);
      view.update(run);
      writer.write(run);
    }
    writer.write(run);
    await writer.flush();
    return run;
  } finally {
    dispose();
  }
}

import { arr, bool, int, map, nullable, num, obj, ref, type Schema, str } from './schema-kit';

// The bodies of the gateway's own routes: status (`health-routes.ts`, `stats-routes.ts`) and the
// admin API (`admin-routes.ts`). Field names as those files write them.

const breaker = { type: 'string', enum: ['closed', 'half-open', 'open'] };
const health = { type: 'string', enum: ['UNKNOWN', 'HEALTHY', 'DEGRADED', 'UNHEALTHY'] };
const windows = (what: string): Record<string, Schema> => ({
  last_minute: num(`${what} over the last minute (59-60 s)`),
  since_start: num(`${what} since the node joined the pool (or the gateway started)`),
});

/** `state` in `/health` and `/ready`: whether the replicas share the pool's state now (`state.backend`). */
const sharedState = obj(
  {
    backend: { type: 'string', enum: ['memory', 'redis'] },
    shared: bool("false while Redis is out: this replica then works on its local share of each node's slots"),
    replica_id: str("this replica's name in Redis (redis only)"),
    replicas: int('replicas alive at the last heartbeat, this one included (redis only)'),
    since: str('when `shared` last changed (ISO 8601)'),
    error: str('why Redis counts as out'),
  },
  ['backend', 'shared', 'since'],
);

/** Component schemas of the gateway's own routes, by name. */
export const GATEWAY_SCHEMAS: Record<string, Schema> = {
  Health: obj(
    {
      status: { type: 'string', enum: ['ok', 'unavailable'] },
      error: str('present when no node can serve'),
      serving: int('nodes that can serve now'),
      total: int(),
      nodes: arr(
        obj(
          {
            id: str(),
            url: str('credentials masked'),
            health,
            can_serve: bool(),
            enabled: bool(),
            admin_disabled: bool(),
            draining: bool(),
            circuit_breaker: breaker,
            in_flight: int(),
            max_concurrent: int(),
            last_error: str(),
          },
          ['id', 'url', 'health', 'can_serve', 'in_flight', 'max_concurrent'],
        ),
      ),
      state: sharedState,
    },
    ['status', 'serving', 'total', 'nodes', 'state'],
  ),
  Ready: obj({ status: { type: 'string', enum: ['ready', 'shutting_down'] }, error: str(), state: sharedState }, ['status']),
  Stats: obj(
    {
      total_instances: int(),
      healthy_instances: int(),
      degraded_instances: int(),
      unhealthy_instances: int(),
      unknown_instances: int(),
      strategy: str(),
      requests_in_progress: int('admitted and not finished: queued, backing off or in flight'),
      queue: obj({ depth: int(), by_model: map(int()) }, ['depth', 'by_model']),
      load_imbalance: obj(
        {
          definition: str('how the figures are computed'),
          last_minute: nullable(num()),
          since_start: nullable(num()),
          by_model: map(obj({ nodes: arr(str()), ...windows('(max − min) ÷ mean utilization of these nodes') }, ['nodes', 'last_minute', 'since_start'])),
        },
        ['definition', 'last_minute', 'since_start', 'by_model'],
        '(max − min) ÷ mean utilization of the nodes serving a model, the largest over the models two or more nodes serve; null when none does.',
      ),
      instances: map(
        obj(
          {
            url: str(),
            state: { type: 'string', enum: ['healthy', 'degraded', 'unhealthy', 'unknown'] },
            enabled: bool(),
            admin_disabled: bool(),
            draining: bool(),
            active_requests: int(),
            max_concurrent: int(),
            total_requests: int(),
            failed_requests: int(),
            avg_response_time: num('ms'),
            error_rate: num('percent'),
            availability: nullable(num('percent of health checks passed')),
            models_loaded: arr(str()),
            circuit_breaker_open: bool(),
            circuit_breaker_state: breaker,
            utilization: obj(windows('busy slot time ÷ capacity slot time, 0-1'), ['last_minute', 'since_start']),
            remote_holders: int("replicas: other replicas' requests holding the node's slots, as this replica knows them; absent when none"),
          },
          ['url', 'state', 'active_requests', 'max_concurrent', 'utilization'],
        ),
        'by node id',
      ),
    },
    ['total_instances', 'strategy', 'requests_in_progress', 'queue', 'load_imbalance', 'instances'],
  ),
  NodeSpec: obj(
    {
      id: str(),
      url: str('may carry user:password@ and a path prefix'),
      models: arr(str()),
      maxConcurrentRequests: int(),
      maxConcurrentPerModel: map(int()),
      maxLoadedModels: int(),
      weight: num(),
      enabled: bool(),
      tags: arr(str()),
      priority: int(),
    },
    ['id', 'url'],
    'A node, as in the config file (unknown keys are errors).',
  ),
  Node: obj(
    {
      id: str(),
      url: str('credentials masked'),
      health,
      enabled: bool(),
      adminDisabled: bool(),
      draining: bool(),
      inFlight: int(),
      maxConcurrent: int(),
      weight: num(),
      priority: int(),
      tags: arr(str()),
      models: arr(str()),
      loadedModels: arr(obj({ model: str(), optionsSignature: { type: ['string', 'null'] }, expiresAt: num('epoch ms') })),
      breakerState: breaker,
      totalRequests: int(),
      failedRequests: int(),
      lastError: str(),
      removed: bool(),
      canServe: bool(),
    },
    ['id', 'url', 'health', 'inFlight', 'maxConcurrent', 'canServe'],
  ),
  NodeList: obj({ nodes: arr(ref('Node')) }, ['nodes']),
  NodeRemoved: obj({ id: str(), status: { type: 'string', enum: ['draining', 'removed'] }, in_flight: int() }, ['id', 'status']),
  Strategy: obj({ strategy: str('in use'), configured: str('in the config'), available: arr(str()), aliases: map(str()), previous: str('after a change') }, [
    'strategy',
    'configured',
    'available',
    'aliases',
  ]),
  StrategyChange: obj({ strategy: str('a name or alias') }, ['strategy']),
  Reloaded: obj({ status: { type: 'string', enum: ['reloaded'] }, nodes: int(), strategy: str(), configured_nodes: arr(str()), runtime_nodes: arr(str()) }, [
    'status',
    'nodes',
    'strategy',
  ]),
  Queue: obj(
    {
      depth: int(),
      waiting: arr(
        obj({
          id: int(),
          model: str(),
          route: str(),
          priority: num(),
          class: { type: 'string', enum: ['interactive', 'batch'] },
          waited_ms: num(),
          deadline_in_ms: nullable(num()),
        }),
      ),
    },
    ['depth', 'waiting'],
    'The waiting requests, in service order.',
  ),
  EmbedBatchRequest: obj(
    {
      model: str(),
      docs: arr(str(), 'the documents, non-empty strings, at most `autobatch.jobs.maxDocs`'),
      truncate: bool(),
      dimensions: int(),
      keep_alive: { oneOf: [str(), num()] },
      options: map({}),
    },
    ['model', 'docs'],
  ),
  EmbedBatchJob: obj(
    {
      id: str(),
      model: str(),
      status: { type: 'string', enum: ['queued', 'running', 'completed', 'failed'] },
      total: int('documents in the job'),
      embedded: int('documents embedded: exact once the job has finished, counted in whole chunks while it runs'),
      failed: int('documents of failed chunks (likewise)'),
      createdAt: int('epoch ms, to the second'),
      startedAt: int('epoch ms, to the second'),
      finishedAt: int('epoch ms, to the second'),
      error: str("why it failed: the first failed chunk's error"),
      status_url: str('on submission'),
      results_url: str('on submission'),
    },
    ['id', 'model', 'status', 'total', 'embedded', 'failed', 'createdAt'],
  ),
  EmbedBatchList: obj(
    {
      counts: obj({ queued: int(), running: int(), completed: int(), failed: int() }),
      jobs: arr(ref('EmbedBatchJob'), 'newest first'),
      persistent: bool('true: jobs are kept on disk (`batch.dataDir`) and survive a restart'),
    },
    ['counts', 'jobs', 'persistent'],
  ),
  EmbedBatchResults: obj({ id: str(), model: str(), status: str(), embeddings: arr(arr(num()), 'one per document, in order'), promptTokens: int() }, [
    'id',
    'model',
    'status',
    'embeddings',
    'promptTokens',
  ]),
};

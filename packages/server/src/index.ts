/**
 * @ollama-ring/server: the ollama-ring gateway — Ollama- and OpenAI-compatible HTTP front, admin
 * API, metrics — and the `ollama-ring` CLI.
 */
export { Gateway, type GatewayOptions } from './gateway';
export type { GatewayContext, RequestLogEntry } from './gateway-context';
export { Router, type Handler, type HttpContext, type RouteMatch } from './http/router';
export { sendError, sendThrown } from './http/errors';
export { HttpSink, NODE_HEADER, QUEUE_HEADER, RETRIES_HEADER } from './http/http-sink';
export { clientIdentity, isAdmin, presentedKey, isLoopback } from './http/auth';
export { readBody, BodyError } from './http/body';
export { hintsFromHeaders } from './http/hints';
export { allRoutes } from './http/routes';
export { addHealthRoutes, healthOf, type HealthBody, type NodeHealth } from './http/health-routes';
export { addStatsRoutes, statsOf, type StatsBody, type InstanceStats } from './http/stats-routes';
export { addAdminRoutes, nodeSpecOf } from './http/admin-routes';
export { addModelRoutes, GATEWAY_VERSION } from './http/model-routes';
export { addModelAdminRoutes } from './http/model-admin-routes';
export { addOpenAIModelRoutes, type OpenAIModel } from './http/openai-model-routes';
export { addBatchRoutes } from './http/batch-routes';
export { BatchRunner, type BatchPipeline, type BatchRunnerOptions, type LineResult, type RunOptions, type RunSummary } from './batch/runner';
export { BatchStore } from './batch/store';
export { BatchJobs } from './batch/jobs';
export { BatchService, ownerOf } from './batch/service';
export { BatchDirLockedError, processAlive } from './batch/dir-lock';
export { EmbedJobError, EmbedJobs, type EmbedJobResults, type EmbedJobStatus, type EmbedJobSummary } from './batch/embed-jobs';
export { checkLine, inputLines, validateInput } from './batch/input';
export { BATCH_ENDPOINTS, type BatchLine, type BatchObject, type BatchStatus, type FileObject, type ResultLine } from './batch/types';
export { addDocsRoutes } from './http/docs-routes';
export { ApiDocError, documentedRoutes, openApiDocument, type ServedRoute } from './http/api-doc/document';
export { NODES_HEADER, targetNodes, fanOutCall, fanOutProgress, type NodeResult } from './http/fan-out';
export { listModels, compareVersions, type Listing, type ModelEntry, type MergedEntry } from './http/model-listing';
export { refreshModels } from './http/model-sync';
export { Upstream, upstreamFor, closeUpstream, stripHopByHop, forwardable, NodeCallError, type CallKind, type UpstreamCall, type NodeAddress } from './http/upstream';
export { sendJson, readJsonObject, requireClient, requireAdmin, canServe, modelOf, type JsonObject } from './http/route-util';
export { runCli, COMMANDS } from './cli';
export type { CliIo, Command } from './commands/types';
export { createLogger, componentLogger, silentLogger, isLogLevel, LOG_LEVELS, type LogLevel, type LoggerOptions } from './logging';

/**
 * @ollama-ring/protocol: what the balancer, the gateway and the emulator know of Ollama's wire
 * protocol, in one place: routes, model names, error bodies, JSON bodies of any depth Ollama accepts,
 * network-error classification, stream framing, and the product's error base.
 */
export { OllamaRingError } from './errors';
export { type ErrorFlavor, flavorOfPath, Route, ROUTE_PATHS, INFERENCE_ROUTES, isEmbeddingRoute, isOpenAIRoute, type Endpoint, OLLAMA_ENDPOINTS } from './routes';
export {
  DEFAULT_HOST,
  DEFAULT_NAMESPACE,
  DEFAULT_TAG,
  type ModelName,
  parseModelName,
  fullName,
  displayName,
  modelKey,
  nameKey,
  normalizeModel,
  sameModel,
  shortestOrRaw,
} from './model-names';
export {
  ERROR_CONTENT_TYPE,
  openAIErrorType,
  ollamaErrorBody,
  openAIErrorBody,
  errorBody,
  streamErrorLine,
  errorMessageOf,
  errorMessageIn,
  isErrorBody,
  isModelNotFound,
  errorText,
} from './error-bodies';
export { MAX_JSON_DEPTH, jsonDepthError, toJson } from './json';
export { type NetworkErrorKind, type TimeoutPhase, type NetworkErrorClass, networkErrorCode, classifyNetworkError } from './network-errors';
export {
  NDJSON_CONTENT_TYPE,
  SSE_CONTENT_TYPE,
  SSE_DONE,
  isStreamContentType,
  ndjsonLine,
  sseEvent,
  parseStreamLine,
  inBandErrorOf,
  LineSplitter,
  FinalChunkTracker,
} from './framing';
export { type JsonSpan, topLevelValue, setStreamTrue } from './json-scan';
export { apportion, base64Floats, canonicalJson, type EmbedCall, type EmbedShape, type EmbedShare, embedAnswerOf, embedCallOf } from './embeddings';

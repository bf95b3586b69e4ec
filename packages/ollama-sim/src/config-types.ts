/**
 * The shapes of a sim configuration, as written in YAML or passed to `startSimPool`. Every field but
 * the node list and the names is optional; `resolveConfig` fills the defaults documented here.
 */

/** What a model can do; decides which endpoints accept it (see Ollama's `capabilities`). */
export type ModelCapability = 'completion' | 'tools' | 'thinking' | 'embedding' | 'insert' | 'vision';

/** A model, as listed in the pool's catalog or inline on a node. */
export interface SimModelConfig {
  /** `[host/][namespace/]model[:tag]`; `llama3.2` means `llama3.2:latest`. */
  name: string;
  family?: string;
  /** e.g. `3.2B`. */
  parameterSize?: string;
  /** e.g. `Q4_K_M`. */
  quantization?: string;
  /** Bytes on disk; default derived from `parameterSize` and `quantization`. */
  size?: number;
  /** Trained context length shown by `/api/show` (`<family>.context_length`). Default 131072. */
  contextLength?: number;
  /** Embedding vector length. Default 768. */
  embeddingLength?: number;
  /** Default `['completion']`. An embedding model is `['embedding']`. */
  capabilities?: ModelCapability[];
  /** Load time in ms at timeScale 1. Default: the node's `loadMs`. */
  loadMs?: number;
  /** Generated tokens/s, absolute. Default: the node's `tokensPerSec` × `relativeSpeed`. */
  tokensPerSec?: number;
  /** Prompt (prefill) tokens/s, absolute. Default: the node's `promptTokensPerSec` × `relativeSpeed`. */
  promptTokensPerSec?: number;
  /** Fixed cost of one embedding call in ms, whatever its number of inputs. Default: the node's `embedCallMs`. */
  embedCallMs?: number;
  /** Cost of each input of an embedding call in ms, beside its prefill. Default: the node's `embedInputMs`. */
  embedInputMs?: number;
  /** Speed relative to the node's base speeds (a 12B model might be 0.4). Default 1. */
  relativeSpeed?: number;
  /** How many tokens the model writes before stopping on its own, inclusive bounds. */
  responseTokens?: { min: number; max: number };
  /** RFC3339 timestamp for `/api/tags`; default: spaced an hour apart, newest first in list order. */
  modifiedAt?: string;
  template?: string;
  license?: string;
  system?: string;
}

/** Fault injection settings. A node starts with these and `/_sim/faults` changes them at run time. */
export interface SimFaults {
  /** Fail the next `count` matching requests with `status` and `message` (before any byte). */
  failNext?: { count: number; status: number; message?: string; paths?: string[] };
  /** Generations send `afterTokens` tokens, then a final `{"error":…}` line (500 JSON if none sent yet). */
  errorMidStream?: { afterTokens: number; message?: string; count?: number };
  /** Accept and never answer. With `afterTokens`, generations stall after that many tokens instead. */
  hang?: { count?: number; afterTokens?: number; paths?: string[] };
  /** Multiply every simulated duration (load, prefill, token gaps) by this factor. */
  slowdown?: number;
  /** Destroy the socket after `afterTokens` tokens of a generation. */
  closeMidStream?: { afterTokens: number; count?: number };
  /** Model loads fail with a 500 and `message`. */
  failLoad?: { message?: string; count?: number };
  /** Stop listening (connections are refused); listen again after `forMs`, or only when told. */
  refuse?: { forMs?: number };
  /** `/api/tags` (and `/v1/models`) report exactly these model names instead of the real list. */
  tagsOverride?: string[];
  /** `/api/ps` reports exactly these model names as loaded instead of the real list. */
  psOverride?: string[];
}

/**
 * The Prometheus exporter a node serves at `GET /metrics`, as a real host would run node_exporter
 * and a GPU exporter beside Ollama. Its numbers follow the node's simulated load.
 */
export interface SimExporterConfig {
  /** The GPU families: `dcgm` (NVIDIA's DCGM exporter: MiB and percent) or `nvidia-smi` (nvidia_gpu_exporter: bytes and ratio). Default `dcgm`. */
  gpuFormat?: 'dcgm' | 'nvidia-smi';
  /** CPUs (`node_cpu_seconds_total`'s `cpu` labels). Default 8. */
  cpus?: number;
  /** Host memory in bytes (`node_memory_MemTotal_bytes`). Default 64 GiB. */
  memoryBytes?: number;
  /** GPUs on a GPU node (`gpu: true`). Default 1. */
  gpus?: number;
  /** Memory of each GPU in bytes. Default 24 GiB. */
  vramBytes?: number;
}

/** One simulated Ollama server. */
export interface SimNodeConfig {
  /** Unique id within the pool, used in logs and `/_sim/nodes/{id}`. */
  id: string;
  /** Listen address. Default `127.0.0.1`. */
  host?: string;
  /** Listen port; 0 (the default) picks a free one. */
  port?: number;
  /** OLLAMA_NUM_PARALLEL: concurrent requests per loaded model. Default 1. */
  numParallel?: number;
  /** OLLAMA_MAX_LOADED_MODELS. Default 3. */
  maxLoadedModels?: number;
  /** OLLAMA_MAX_QUEUE: cold-load requests that may wait. Default 512. */
  maxQueue?: number;
  /** OLLAMA_KEEP_ALIVE: a Go duration or seconds. Default `5m`. */
  keepAlive?: string | number;
  /** `num_ctx` when a request sets none. Default 4096. */
  defaultNumCtx?: number;
  /** Base generated tokens/s. Default 50. */
  tokensPerSec?: number;
  /** Base prompt (prefill) tokens/s. Default 1000. */
  promptTokensPerSec?: number;
  /** Fixed cost of one embedding call (`/api/embed`, `/api/embeddings`, `/v1/embeddings`) in ms. Default 0. */
  embedCallMs?: number;
  /** Cost of each input of an embedding call in ms, beside its prefill. Default 0. */
  embedInputMs?: number;
  /** Base model load time in ms. Default 1000. */
  loadMs?: number;
  /** Natural response length bounds for models that set none. Default 16–64. */
  responseTokens?: { min: number; max: number };
  /** false: a CPU-only node (`size_vram` 0). Default true. */
  gpu?: boolean;
  /** Installed models: catalog names, or inline definitions/overrides. */
  models: (string | SimModelConfig)[];
  /** Models loaded at start-up (they pay no load time). */
  preload?: string[];
  /** Faults active from the start. */
  faults?: SimFaults;
  /** Ollama's Host-header check on loopback listeners (403 for unknown hosts). Default true. */
  checkHost?: boolean;
  /** `/api/version`'s answer. Default: the pool's `version`. */
  version?: string;
  /** Serve a Prometheus exporter at `GET /metrics` (absent: 404 there, as from Ollama). */
  exporter?: SimExporterConfig;
  /** Serve HTTPS (as Ollama behind a TLS-terminating proxy would); absent: plain HTTP. */
  tls?: SimTlsConfig;
}

/**
 * A node's HTTPS: PEM files by path. With `ca`, clients must present a certificate it signed (mTLS).
 */
export interface SimTlsConfig {
  cert: string;
  key: string;
  ca?: string;
}

/** A pool of simulated nodes in one process. */
export interface SimPoolConfig {
  /** Multiplies every simulated duration: 0.01 makes one simulated second take 10 ms. Default 1. */
  timeScale?: number;
  /** Seeds the generated text. Default 0. */
  seed?: number;
  /** Reported by `/api/version`. Default `0.33.0`. */
  version?: string;
  /** The catalog ("registry"): models nodes may list by name, and `/api/pull` can fetch. */
  models?: SimModelConfig[];
  nodes: SimNodeConfig[];
  /** Log one line per request. */
  verbose?: boolean;
}

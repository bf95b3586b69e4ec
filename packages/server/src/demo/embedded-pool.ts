/**
 * A copy of config/sim-pool.yaml, for installs without the repository (`npm i -g`): the demo
 * prefers the file, and a test keeps this copy equal to it.
 */
import type { SimPoolConfig } from '@ollama-ring/ollama-sim';

export const EMBEDDED_SIM_POOL: SimPoolConfig = {
  timeScale: 1,
  seed: 42,
  models: [
    {
      name: 'llama3.2:3b',
      family: 'llama',
      parameterSize: '3.2B',
      quantization: 'Q4_K_M',
      capabilities: ['completion', 'tools'],
      loadMs: 1800,
    },
    {
      name: 'qwen3:8b',
      family: 'qwen3',
      parameterSize: '8.2B',
      quantization: 'Q4_K_M',
      capabilities: ['completion', 'tools', 'thinking'],
      loadMs: 3500,
      relativeSpeed: 0.6,
    },
    {
      name: 'mistral:7b',
      family: 'llama',
      parameterSize: '7.2B',
      quantization: 'Q4_0',
      capabilities: ['completion', 'tools'],
      loadMs: 3000,
      relativeSpeed: 0.7,
    },
    {
      name: 'gemma3:12b',
      family: 'gemma3',
      parameterSize: '12.2B',
      quantization: 'Q4_K_M',
      capabilities: ['completion', 'vision'],
      loadMs: 6000,
      relativeSpeed: 0.4,
    },
    {
      name: 'nomic-embed-text',
      family: 'nomic-bert',
      parameterSize: '137M',
      quantization: 'F16',
      capabilities: ['embedding'],
      loadMs: 400,
      embeddingLength: 768,
    },
  ],
  nodes: [
    {
      id: 'gpu-large',
      port: 11501,
      numParallel: 4,
      maxLoadedModels: 3,
      keepAlive: '5m',
      tokensPerSec: 90,
      promptTokensPerSec: 4000,
      models: ['llama3.2:3b', 'qwen3:8b', 'mistral:7b', 'gemma3:12b', 'nomic-embed-text'],
      preload: ['llama3.2:3b'],
      exporter: { cpus: 16, gpus: 2, vramBytes: 25769803776 },
    },
    {
      id: 'gpu-small',
      port: 11502,
      numParallel: 2,
      maxLoadedModels: 2,
      keepAlive: '5m',
      tokensPerSec: 45,
      promptTokensPerSec: 1500,
      models: [
        'llama3.2:3b',
        {
          name: 'qwen3:8b',
          loadMs: 5000,
        },
        'nomic-embed-text',
      ],
      preload: ['nomic-embed-text'],
      exporter: { gpuFormat: 'nvidia-smi', cpus: 8, vramBytes: 8589934592 },
    },
    {
      id: 'cpu-box',
      port: 11503,
      numParallel: 1,
      maxLoadedModels: 1,
      maxQueue: 4,
      keepAlive: '2m',
      gpu: false,
      tokensPerSec: 12,
      promptTokensPerSec: 150,
      loadMs: 4000,
      models: ['llama3.2:3b', 'nomic-embed-text'],
      exporter: { cpus: 4, memoryBytes: 17179869184 },
    },
  ],
};

import type { IncomingMessage } from 'node:http';
import { complexityOf, priorityOf, type RequestHints } from '@ollama-ring/balancer';

/**
 * Per-request routing hints from headers (the body's own hint fields are read by validation):
 * `X-Ollama-Ring-Priority` (number, or high/normal/low), `X-Ollama-Ring-Tags` (comma-separated),
 * `X-Ollama-Ring-Strategy`, `X-Ollama-Ring-Fallback-Model`, `X-Ollama-Ring-Latency-Budget-Ms`,
 * `X-Ollama-Ring-Complexity` (a word the `hybrid` strategy's rules match on, e.g. high/low). The
 * fallback model and the latency budget are honoured under every strategy (see the balancer README,
 * "Hints and strategies").
 */
export function hintsFromHeaders(req: IncomingMessage): RequestHints {
  const h = (name: string) => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const hints: RequestHints = {};
  const priority = priorityOf(h('x-ollama-ring-priority'));
  if (priority !== undefined) hints.priority = priority;
  const tags = h('x-ollama-ring-tags');
  if (tags)
    hints.tags = tags
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
  const strategy = h('x-ollama-ring-strategy');
  if (strategy) hints.strategy = strategy;
  const fallback = h('x-ollama-ring-fallback-model');
  if (fallback) hints.fallbackModel = fallback;
  const budget = Number(h('x-ollama-ring-latency-budget-ms'));
  if (Number.isFinite(budget) && budget > 0) hints.latencyBudgetMs = budget;
  const complexity = complexityOf(h('x-ollama-ring-complexity'));
  if (complexity !== undefined) hints.complexity = complexity;
  return hints;
}

/**
 * Entry for validation on worker threads: `disruptor.handleEventsWithWorkerPool({ module: this file })`.
 * The arena is re-attached from its shared buffer, so bodies are read in place, not copied.
 */
import { ByteArena } from '@ollama-ring/disruptor';
import type { ValidationLimits } from './request-facts';
import { ValidationHandler } from './validation';

export interface ValidationWorkerOptions {
  arena: SharedArrayBuffer;
  limits: ValidationLimits;
}

export function createHandler(options: ValidationWorkerOptions): ValidationHandler {
  return new ValidationHandler(ByteArena.attach(options.arena), options.limits);
}

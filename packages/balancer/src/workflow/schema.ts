import type { SchemaObject } from 'ajv';
import { WORKFLOW_METHODS } from './types';

// The workflow file's JSON schema, checked by the config's own `checkSchema` (same messages, same
// custom keywords). Values that may take two types (`when`, `for_each`, `pool`) are checked in
// `load.ts` instead, where the message can say what each form means.

const str: SchemaObject = { type: 'string' };
const nonEmpty: SchemaObject = { type: 'string', minLength: 1 };
const obj = (properties: Record<string, SchemaObject>, required: string[] = []): SchemaObject => ({ type: 'object', properties, required, additionalProperties: false });

/** One task: seed 001's `name`/`protocol`/`method`/`params` form, plus ours. */
export const TASK_SCHEMA: SchemaObject = obj(
  {
    // Ids appear in templates (`tasks.<id>.output`) and Mermaid graphs: a word, no dots or spaces.
    id: { type: 'string', minLength: 1, pattern: '^[A-Za-z_][\\w-]*$' },
    name: nonEmpty,
    description: str,
    protocol: { enum: ['llm/v1'] },
    method: { enum: [...WORKFLOW_METHODS] },
    params: { type: 'object' },
    depends_on: { stringOrStrings: true },
    retries: { type: 'integer', minimum: 0, maximum: 100 },
    timeout: { numberOrString: true },
    when: {},
    for_each: {},
  },
  ['method', 'params'],
);

export const WORKFLOW_SCHEMA: SchemaObject = obj(
  {
    name: nonEmpty,
    description: str,
    version: {},
    vars: { type: 'object' },
    pool: {},
    providers: { type: 'object' },
    concurrency: { type: 'integer', minimum: 1, maximum: 100000 },
    class: { enum: ['interactive', 'batch'] },
    tasks: { type: 'array', minItems: 1, items: TASK_SCHEMA },
  },
  ['tasks'],
);

/**
 * Workflows: YAML task graphs of LLM calls, checked before they run, and run by `WorkflowRunner`
 * through the pipeline, each task as soon as what it needs has ended. See docs/workflows.md.
 */
export { checkWorkflow, findCycle, type ModelCatalog, poolCatalog, resolveVars, VAR_ENV_PREFIX } from './check';
export { TaskOutputError, TaskTimeoutError, WorkflowError } from './errors';
export { graphMermaid, graphText, ranks, taskWeight, topoOrder } from './graph';
export { durationMs, idOfName, loadWorkflowFile, parseWorkflow, workflowOf } from './load';
export { type TaskEvent, WorkflowRunner, type WorkflowRunnerOptions } from './runner';
export { WORKFLOW_SCHEMA } from './schema';
export { ROUTE_OF, type WorkflowPipeline } from './task-call';
export { conditionHolds, render, templatesIn } from './template';
export * from './types';

/**
 * @ollama-ring/balancer: the request pipeline, scheduler, nodes, config and metrics of ollama-ring,
 * and the `PipelineFactory` library API.
 */
export * from './errors';
export * from './events';
export * from './inference-request';
export * from './response-sink';
export * from './pipeline';
export * from './pipeline-factory';
export * from './nodes/node';
export * from './nodes/circuit-breaker';
export * from './nodes/node-registry';
export * from './scheduler/estimates';
export type { SchedulerObserver, RequestEnd, Outcome } from './scheduler/observer';
export { ControlPlane } from './scheduler/control-plane';
export type { PoolView, WaitingRequest, HeldSlot, NodeEstimate } from './scheduler/pool-view';
export type * from './scheduler/scheduler-events';
export type { SchedulerJournal } from './scheduler/scheduler';
export * from './strategies';
export * from './metrics';
export * from './limits';
export { priorityOf, signatureOf, validateRequest } from './stages/validate-request';
export * from './config';
export { stripHopByHop } from './upstream/hop-by-hop';

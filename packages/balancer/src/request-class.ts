/**
 * A request's class: `interactive` (the default, a client waiting on its answer) or `batch` (a line of
 * a batch job, served from capacity no interactive request is waiting for).
 */
export type RequestClass = 'interactive' | 'batch';

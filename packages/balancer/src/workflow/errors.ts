import { BalancerError, type ConfigIssue } from '../errors';
import { formatIssue } from '../config/locate';

/**
 * A workflow that cannot run: its file does not parse, breaks the schema, or its graph is wrong
 * (a cycle, an unknown task or variable, an unknown method, a model no node has). Found before
 * anything runs; each issue names the key and, for a file, its line (HTTP 400 where it is shown).
 */
export class WorkflowError extends BalancerError {
  static override brand = 'ERR_WORKFLOW_INVALID';
  readonly issues: readonly ConfigIssue[];
  constructor(message: string, issues: readonly ConfigIssue[] = []) {
    super(WorkflowError.brand, 400, issues.length ? `${message}:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}` : message);
    this.issues = issues;
  }
}

/** A task's answer was not the JSON its `format` asked for. */
export class TaskOutputError extends BalancerError {
  static override brand = 'ERR_WORKFLOW_BAD_JSON';
  constructor(message: string) {
    super(TaskOutputError.brand, 502, message);
  }
}

/** A task's attempt ran past its `timeout`. */
export class TaskTimeoutError extends BalancerError {
  static override brand = 'ERR_WORKFLOW_TIMEOUT';
  constructor(ms: number) {
    super(TaskTimeoutError.brand, 504, `the task's attempt took longer than its timeout (${ms} ms)`);
  }
}

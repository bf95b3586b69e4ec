/** Starts the simulated pool in a child process and talks to it (see sim-child.ts). */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { SimNodeState, SimPoolConfig } from '@ollama-ring/ollama-sim';
import type { ChildMessage, ParentMessage, SimChildOptions } from './protocol';

export interface SimProcess {
  /** The child's process id (for its CPU time). */
  pid: number;
  nodes: { id: string; url: string }[];
  state(): Promise<SimNodeState[]>;
  close(): Promise<void>;
}

export async function startSimProcess(config: SimPoolConfig): Promise<SimProcess> {
  const opts: SimChildOptions = { config };
  const child: ChildProcess = fork(join(__dirname, 'sim-child.js'), [JSON.stringify(opts)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const inbox: ChildMessage[] = [];
  let wake: (() => void) | undefined;
  child.on('message', (m: ChildMessage) => {
    inbox.push(m);
    wake?.();
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  void exited.then(() => wake?.());
  const next = async <T extends ChildMessage['type']>(type: T): Promise<Extract<ChildMessage, { type: T }>> => {
    for (;;) {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return inbox.splice(i, 1)[0] as Extract<ChildMessage, { type: T }>;
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`sim process exited (${child.exitCode ?? child.signalCode})`);
      await new Promise<void>((r) => (wake = r));
    }
  };
  const send = (m: ParentMessage): void => void child.send(m);
  const ready = await next('ready');
  return {
    pid: child.pid ?? -1,
    nodes: ready.nodes,
    async state() {
      send({ type: 'state' });
      return (await next('state')).nodes;
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

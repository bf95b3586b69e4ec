/**
 * The load generator's own process: its event loop is busy with hundreds of sockets, and in the
 * proxy's process it would slow the proxy down (and the proxy would delay its timestamps).
 */
import { exitWithParent, failStartup } from './child';
import { runRequests, runStreams } from './load';
import type { FromChild, LoadResult, ToChild } from './protocol';

const send = (m: FromChild): void => {
  process.send?.(m);
};

function run(): void {
  exitWithParent();
  process.on('message', (m: ToChild) => {
    if (m.type === 'stop') process.exit(0);
    if (m.type !== 'run') return;
    const onPhase = (phase: 'measure' | 'end'): void => send({ type: 'phase', phase });
    const running: Promise<LoadResult> = m.job.kind === 'requests' ? runRequests(m.job, onPhase) : runStreams(m.job, onPhase);
    running.then(
      (result) => send({ type: 'result', result }),
      (e: unknown) => send({ type: 'failed', error: (e as Error).stack ?? String(e) }),
    );
  });
  send({ type: 'ready', url: '' });
}

try {
  run();
} catch (e) {
  failStartup(e);
}

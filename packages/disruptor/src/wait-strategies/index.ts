import { IllegalStateError, InvalidArgumentError } from '../errors';
import { BlockingWaitStrategy } from './blocking';
import { BusySpinWaitStrategy } from './busy-spin';
import { LiteBlockingWaitStrategy } from './lite-blocking';
import { SleepingWaitStrategy } from './sleeping';
import { TimeoutBlockingWaitStrategy } from './timeout';
import type { WaitStrategy, WaitStrategyDescriptor, WaitStrategyKind } from './wait-strategy';
import { YieldingWaitStrategy } from './yielding';

export { BlockingWaitStrategy } from './blocking';
export { BusySpinWaitStrategy } from './busy-spin';
export { LiteBlockingWaitStrategy } from './lite-blocking';
export { SameThreadWaitStrategy } from './same-thread';
export { SleepingWaitStrategy } from './sleeping';
export { TimeoutBlockingWaitStrategy } from './timeout';
export { YieldingWaitStrategy } from './yielding';
export { DEFAULT_SPIN_TRIES, type WaitStrategy, type WaitStrategyDescriptor, type WaitStrategyKind } from './wait-strategy';

/**
 * Every strategy name a config may choose. (`same-thread` is built in code, for rings that never
 * leave their thread; a handler thread cannot rebuild it.)
 */
export const WAIT_STRATEGY_KINDS: readonly WaitStrategyKind[] = ['blocking', 'lite-blocking', 'sleeping', 'yielding', 'busy-spin', 'timeout'];

/**
 * Builds a strategy by name, or rebuilds one from `describe()` output on another thread (sharing
 * the same behaviour; the signal words it sleeps on belong to the sequences, which are shared).
 *
 * @example
 * createWaitStrategy('lite-blocking');
 * createWaitStrategy({ kind: 'timeout', timeoutMs: 20 });
 */
export function createWaitStrategy(spec: WaitStrategyKind | WaitStrategyDescriptor): WaitStrategy {
  const d: WaitStrategyDescriptor = typeof spec === 'string' ? { kind: spec } : spec;
  switch (d.kind) {
    case 'blocking':
      return new BlockingWaitStrategy(d.spinTries);
    case 'lite-blocking':
      return new LiteBlockingWaitStrategy(d.spinTries);
    case 'timeout':
      return new TimeoutBlockingWaitStrategy(d.timeoutMs ?? 1000, d.spinTries);
    case 'sleeping':
      return new SleepingWaitStrategy(d.timeoutMs);
    case 'yielding':
      return new YieldingWaitStrategy();
    case 'busy-spin':
      return new BusySpinWaitStrategy();
    case 'same-thread':
      // Reached only when a descriptor crosses to a handler thread: that thread would wait forever.
      throw new IllegalStateError('the same-thread wait strategy serves only handlers on the publishing thread; a worker-thread handler needs another');
    default:
      throw new InvalidArgumentError(`unknown wait strategy '${String((d as { kind: unknown }).kind)}'; expected one of ${WAIT_STRATEGY_KINDS.join(', ')}`);
  }
}

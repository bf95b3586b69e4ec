/**
 * @ollama-ring/disruptor: a Disruptor-style engine over SharedArrayBuffer and Atomics.
 * Generic: it knows nothing of Ollama.
 */
export {
  AlertError,
  ArenaFullError,
  BrandedError,
  DisruptorError,
  IllegalStateError,
  InsufficientCapacityError,
  InvalidArgumentError,
  PayloadTooLargeError,
  ShutdownTimeoutError,
  StreamClosedError,
  WaitTimeoutError,
  WorkerCrashedError,
} from './errors';
export { INITIAL_SEQUENCE, seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt, Sequence, type SequenceReader } from './sequence';
export { laggardSequence, minimumSequence, SequenceGroup } from './sequence-group';
export { type FieldSlot, type FieldType, type RecordFields, RecordLayout, type RecordSchema } from './record-layout';
export type { EventView } from './event-view';
export { type ProducerType, RingBuffer, type RingBufferDescriptor, type RingBufferOptions } from './ring-buffer';
export { AbstractSequencer, MAIN_THREAD_BLOCK, type Sequencer, type SequencerDescriptor } from './sequencer';
export { SingleProducerSequencer } from './single-producer-sequencer';
export { MultiProducerSequencer } from './multi-producer-sequencer';
export { type BarrierDescriptor, SequenceBarrier } from './sequence-barrier';
export {
  BlockingWaitStrategy,
  BusySpinWaitStrategy,
  createWaitStrategy,
  DEFAULT_SPIN_TRIES,
  LiteBlockingWaitStrategy,
  SameThreadWaitStrategy,
  SleepingWaitStrategy,
  TimeoutBlockingWaitStrategy,
  WAIT_STRATEGY_KINDS,
  type WaitStrategy,
  type WaitStrategyDescriptor,
  type WaitStrategyKind,
  YieldingWaitStrategy,
} from './wait-strategies';
export {
  type EventHandler,
  type ExceptionHandler,
  HaltingExceptionHandler,
  ReportAndContinueExceptionHandler,
  reportHandlerError,
  runLifecycleHook,
  type WorkHandler,
} from './event-handler';
export type { EventProcessor } from './event-processor';
export { BatchEventProcessor, type BatchEventProcessorOptions } from './batch-event-processor';
export { WorkProcessor, type WorkProcessorOptions } from './work-processor';
export { WorkPool } from './work-pool';
export { Disruptor, type DisruptorOptions, EventHandlerGroup, type HandlerSpec, type WorkHandlerSpec } from './dsl';
export type { WorkerHandlerSpec, WorkerHandlerContext } from './threads/worker-protocol';
export { resolveWorkerEntry } from './threads/worker-host';
export {
  ARENA_FULL,
  ArenaRef,
  ByteArena,
  type ByteArenaOptions,
  type ByteArenaStats,
  type ByteMessageHandler,
  createSpscByteRing,
  END_OF_STREAM,
  NO_MESSAGE,
  NO_PAYLOAD,
  type ReadableState,
  SpscByteReader,
  type SpscByteRingOptions,
  SpscByteWriter,
  type SpscByteWriterStats,
} from './bytes';

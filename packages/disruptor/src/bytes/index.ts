/**
 * Byte transport for variable-size data, which never travels in ring slots: a shared arena for
 * payloads written once and read in place (request bodies), and an SPSC byte ring for streams
 * (response chunks from a worker to the main thread).
 */
export { ByteArena, ARENA_FULL, type ByteArenaOptions, type ByteArenaStats } from './byte-arena';
export { ArenaRef, NO_PAYLOAD } from './arena-ref';
export {
  createSpscByteRing,
  SpscByteWriter,
  SpscByteReader,
  NO_MESSAGE,
  END_OF_STREAM,
  type SpscByteRingOptions,
  type SpscByteWriterStats,
  type ReadableState,
  type ByteMessageHandler,
} from './spsc-byte-ring';

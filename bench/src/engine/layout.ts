import { RecordLayout } from '@ollama-ring/disruptor';

/** The benchmark event: a value, a fields per stage to write, and a send stamp for latency runs. */
export const benchSchema = {
  stamp: 'float64',
  value: 'int32',
  s1: 'int32',
  s2: 'int32',
  a: 'int32',
  b: 'int32',
} as const;

export const benchLayout = RecordLayout.define(benchSchema);

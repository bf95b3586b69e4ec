import { createTraceState } from '@opentelemetry/api';
import { parseTraceparent, traceHeadersOf } from '../../src/tracing/trace-context';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('W3C traceparent', () => {
  test('a valid header is read, and written back the same', () => {
    const ctx = parseTraceparent(`00-${TRACE}-${SPAN}-01`, 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7');
    expect(ctx).toMatchObject({ traceId: TRACE, spanId: SPAN, traceFlags: 1, isRemote: true });
    expect(traceHeadersOf(ctx!)).toEqual({ traceparent: `00-${TRACE}-${SPAN}-01`, tracestate: 'congo=t61rcWkgMzE,rojo=00f067aa0ba902b7' });
    expect(traceHeadersOf({ traceId: TRACE, spanId: SPAN, traceFlags: 0 })).toEqual({ traceparent: `00-${TRACE}-${SPAN}-00` });
    expect(traceHeadersOf({ traceId: TRACE, spanId: SPAN, traceFlags: 1, traceState: createTraceState('') })).toEqual({ traceparent: `00-${TRACE}-${SPAN}-01` });
  });

  test('malformed headers start no trace: bad shape, upper case, zero ids, version ff, version 00 with more fields', () => {
    for (const bad of [
      '',
      'garbage',
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `ff-${TRACE}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-01-extra`,
      `00-${TRACE}-${SPAN}`,
    ]) {
      expect(parseTraceparent(bad)).toBeUndefined();
    }
  });

  test('a later version is read by its first four fields; flags other than sampled are not passed on', () => {
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-03-whatever`)).toMatchObject({ traceId: TRACE, spanId: SPAN, traceFlags: 1 });
  });
});

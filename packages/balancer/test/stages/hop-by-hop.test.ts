import { stripHopByHop } from '../../src/upstream/hop-by-hop';

describe('stripHopByHop', () => {
  test.each<[string, Record<string, string | string[] | undefined>, Record<string, string>]>([
    ['nothing to strip', { 'content-type': 'application/x-ndjson', date: 'x' }, { 'content-type': 'application/x-ndjson', date: 'x' }],
    [
      'every hop-by-hop header and content-length',
      {
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'proxy-connection': 'x',
        'proxy-authenticate': 'x',
        'proxy-authorization': 'x',
        te: 'trailers',
        trailer: 'x',
        'transfer-encoding': 'chunked',
        upgrade: 'h2c',
        'content-length': '42',
        'content-type': 'application/json',
      },
      { 'content-type': 'application/json' },
    ],
    ['header names are matched case-insensitively and lower-cased', { 'Transfer-Encoding': 'chunked', 'Content-Type': 'a/b' }, { 'content-type': 'a/b' }],
    ['headers named in Connection are dropped too', { connection: 'close, X-Trace , x-other', 'x-trace': '1', 'x-other': '2', 'x-kept': '3' }, { 'x-kept': '3' }],
    ['arrays are joined', { 'set-cookie': ['a=1', 'b=2'], vary: ['accept', 'origin'] }, { 'set-cookie': 'a=1, b=2', vary: 'accept, origin' }],
    ['undefined values are dropped', { 'x-a': undefined, 'x-b': '' }, { 'x-b': '' }],
    ['an empty Connection header names nothing', { connection: '', 'x-a': '1' }, { 'x-a': '1' }],
  ])('%s', (_name, input, expected) => {
    expect(stripHopByHop(input)).toEqual(expected);
  });

  test('does not modify its input', () => {
    const h = { connection: 'x-a', 'x-a': '1', 'x-b': '2' };
    stripHopByHop(h);
    expect(h).toEqual({ connection: 'x-a', 'x-a': '1', 'x-b': '2' });
  });
});

import { parseArgs } from '../src/common/args';

describe('bench argument parsing', () => {
  test.each([
    [['--quick'], { quick: true }, []],
    [['--json', 'out.json'], { json: 'out.json' }, []],
    [['--json=out.json'], { json: 'out.json' }, []],
    [['--header=a=b'], {}, [['header', 'a=b']]],
    [
      ['--runs', '3', '--only', 'unicast-1p1c'],
      {},
      [
        ['runs', '3'],
        ['only', 'unicast-1p1c'],
      ],
    ],
  ] as const)('%j', (argv, top, flags) => {
    const a = parseArgs(argv);
    expect(a).toMatchObject(top);
    for (const [k, v] of flags) expect(a.flags.get(k)).toBe(v);
  });

  test('--json without a file, and a stray argument, are errors', () => {
    expect(() => parseArgs(['--json'])).toThrow(/needs a file/);
    expect(() => parseArgs(['oops'])).toThrow(/unexpected argument/);
  });
});

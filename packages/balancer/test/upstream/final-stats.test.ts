import { statsOf } from '../../src/upstream/final-stats';

/** The final chunk of an /api/generate stream: what statsOf reads, amid fields it ignores. */
const FINAL = {
  model: 'llama3.2',
  response: '',
  done: true,
  done_reason: 'stop',
  total_duration: 10_706_818_083,
  load_duration: 6_338_219_291,
  prompt_eval_count: 26,
  prompt_eval_duration: 130_079_000,
  eval_count: 259,
  eval_duration: 4_232_710_000,
};

describe('statsOf', () => {
  test('converts a final chunk from ns to ms', () => {
    expect(statsOf(FINAL)).toEqual({
      loadMs: 6_338.219291,
      promptTokens: 26,
      promptEvalMs: 130.079,
      evalTokens: 259,
      evalMs: 4_232.71,
      totalMs: 10_706.818083,
    });
  });

  test.each<[string, Record<string, unknown> | undefined]>([
    ['undefined', undefined],
    ['a mid-stream chunk', { response: 'x', done: false }],
    ['an error line', { error: 'boom' }],
    ['done as a string', { done: 'true' }],
  ])('undefined for %s', (_name, obj) => {
    expect(statsOf(obj)).toBeUndefined();
  });

  test('an /api/embed response (no done, but total_duration) has stats', () => {
    expect(statsOf({ embeddings: [[0.1]], total_duration: 2_000_000, load_duration: 1_000_000, prompt_eval_count: 3 })).toEqual({
      loadMs: 1,
      promptTokens: 3,
      promptEvalMs: 0,
      evalTokens: 0,
      evalMs: 0,
      totalMs: 2,
    });
  });

  test('a load reply (done, no metrics) gives zeros; non-numbers count as 0', () => {
    expect(statsOf({ done: true, done_reason: 'load', eval_count: '5', load_duration: null })).toEqual({
      loadMs: 0,
      promptTokens: 0,
      promptEvalMs: 0,
      evalTokens: 0,
      evalMs: 0,
      totalMs: 0,
    });
  });
});

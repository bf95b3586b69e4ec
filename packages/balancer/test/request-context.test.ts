import { Route } from '@ollama-ring/protocol';
import { RequestContext, RequestTable } from '../src/request-context';
import { RecordingSink } from './helpers';

const ctx = (id: number, hints = {}) => new RequestContext(id, Route.Generate, 0, 0, hints, undefined, new RecordingSink(), 0);
const MAX = 0x7fffffff;

/** Moves the table's id cursor (private) to test the wrap without allocating 2^31 ids. */
function setCursor(t: RequestTable, next: number): void {
  (t as unknown as { next: number }).next = next; // test-only access to the private cursor
}

describe('RequestTable', () => {
  test('ids start at 1 and increase', () => {
    const t = new RequestTable();
    expect([t.allocateId(), t.allocateId(), t.allocateId()]).toEqual([1, 2, 3]);
  });

  test('ids are positive int32s that wrap from 2^31-1 to 1, never 0 or negative', () => {
    const t = new RequestTable();
    setCursor(t, MAX - 1);
    const ids = [t.allocateId(), t.allocateId(), t.allocateId(), t.allocateId()];
    expect(ids).toEqual([MAX - 1, MAX, 1, 2]);
    for (const id of ids) expect(id | 0).toBe(id); // fits the ring record's int32
  });

  test('a live id is never reused after a wrap', () => {
    const t = new RequestTable();
    t.add(ctx(1));
    t.add(ctx(2));
    t.add(ctx(4));
    setCursor(t, MAX);
    expect(t.allocateId()).toBe(MAX);
    expect(t.allocateId()).toBe(3); // 1 and 2 are live
    expect(t.allocateId()).toBe(5); // 4 is live
    t.delete(1);
    setCursor(t, 1);
    expect(t.allocateId()).toBe(1); // freed ids come back
  });

  test('add, get, delete, size and values', () => {
    const t = new RequestTable();
    const a = ctx(t.allocateId());
    const b = ctx(t.allocateId());
    t.add(a);
    t.add(b);
    expect(t.size).toBe(2);
    expect(t.get(a.id)).toBe(a);
    expect([...t.values()]).toEqual([a, b]);
    expect(t.delete(a.id)).toBe(true);
    expect(t.delete(a.id)).toBe(false);
    expect(t.get(a.id)).toBeUndefined();
    expect(t.size).toBe(1);
  });
});

describe('RequestContext', () => {
  test('starts admitted, with no model until validated', () => {
    const c = ctx(1);
    expect([c.state, c.model, c.retries, c.started, c.queuedAt]).toEqual(['admitted', '', 0, false, 0]);
  });

  test.each<[{ priority?: number }, number | undefined, number]>([
    [{}, undefined, 0],
    [{}, 5, 5],
    [{ priority: -2 }, 5, -2],
    [{ priority: 0 }, 5, 0], // an explicit 0 hint wins over the body
  ])('priority: hint %j, body %p → %p', (hints, body, expected) => {
    const c = ctx(1, hints);
    if (body !== undefined) {
      c.facts = { rawModel: 'm', model: 'm:latest', optionsSignature: '', stream: true, promptTokens: 1, tags: [], priority: body };
    }
    expect(c.priority).toBe(expected);
  });
});

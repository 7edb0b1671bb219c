import { describe, expect, it } from 'vitest';
import { FifoMap } from '../../../src/util/fifo-map.js';

/** The same operations on a plain Map (delete + set keeps it in (re)set order): the reference. */
class Reference<K, V> {
  readonly map = new Map<K, V>();
  set(k: K, v: V): void {
    this.map.delete(k);
    this.map.set(k, v);
  }
  shift(): [K, V] | undefined {
    const first = this.map.entries().next();
    if (first.done) return undefined;
    this.map.delete(first.value[0]);
    return first.value;
  }
}

describe('FifoMap', () => {
  it('gives entries oldest first, a re-set entry counting as newest', () => {
    const m = new FifoMap<string, number>();
    m.set('a', 1);
    m.set('b', 2);
    m.set('c', 3);
    m.set('a', 4);
    expect(m.size).toBe(3);
    expect(m.oldest()).toBe(2);
    expect(m.shift()).toEqual(['b', 2]);
    expect(m.shift()).toEqual(['c', 3]);
    expect(m.shift()).toEqual(['a', 4]);
    expect(m.shift()).toBeUndefined();
    expect(m.size).toBe(0);
  });

  it('skips deleted entries and removes while a condition holds', () => {
    const m = new FifoMap<number, { exp: number }>();
    for (let i = 0; i < 10; i++) m.set(i, { exp: i });
    m.delete(0);
    m.delete(3);
    const removed: number[] = [];
    m.shiftWhile(
      (v) => v.exp < 5,
      (k) => removed.push(k),
    );
    expect(removed).toEqual([1, 2, 4]);
    expect(m.oldest()).toEqual({ exp: 5 });
    expect(m.get(7)).toEqual({ exp: 7 });
    expect(m.has(4)).toBe(false);
  });

  it('agrees with a plain Map through many random operations, compactions included', () => {
    const m = new FifoMap<number, number>();
    const ref = new Reference<number, number>();
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 200_000; i++) {
      const op = rnd(10);
      const k = rnd(3000);
      if (op < 5) {
        m.set(k, i);
        ref.set(k, i);
      } else if (op < 7) {
        expect(m.delete(k)).toBe(ref.map.delete(k));
      } else if (op < 9) {
        expect(m.shift()).toEqual(ref.shift());
      } else {
        expect(m.get(k)).toBe(ref.map.get(k));
      }
      expect(m.size).toBe(ref.map.size);
    }
    const rest: Array<[number, number]> = [];
    for (let e = m.shift(); e; e = m.shift()) rest.push(e);
    expect(rest).toEqual([...ref.map.entries()]);
  });

  it('stays cheap when used as a bounded queue (a plain Map walks over its deleted holes)', () => {
    // Counted, not timed: the number of slots the head moves over per removal stays bounded.
    const m = new FifoMap<number, number>();
    const cap = 50_000;
    for (let i = 0; i < 4 * cap; i++) {
      if (m.size >= cap) m.shift();
      m.set(i, i);
    }
    expect(m.size).toBe(cap);
    expect(m.oldest()).toBe(3 * cap);
    const internal = m as unknown as { order: unknown[]; head: number };
    // Compaction keeps the order array within a small factor of the live entries.
    expect(internal.order.length - internal.head).toBeLessThanOrEqual(2 * cap + 1024);
  });
});

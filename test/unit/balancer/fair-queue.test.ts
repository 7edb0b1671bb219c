import { describe, expect, it } from 'vitest';
import { FairQueue } from '../../../src/balancer/fair-queue.js';
import type { RequestSource } from '../../../src/balancer/types.js';

const src = (remoteAddress: string, clientId: string): RequestSource => ({ remoteAddress, clientId });

function takeAll<T>(q: FairQueue<T>): T[] {
  const out: T[] = [];
  for (let item = q.shift(); item !== undefined; item = q.shift()) out.push(item);
  return out;
}

describe('FairQueue', () => {
  it('keeps each source first in, first out, across many items', () => {
    const q = new FairQueue<number>();
    for (let i = 0; i < 500; i++) q.push(src('a', 'c'), i);
    expect(q.size).toBe(500);
    expect(takeAll(q)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(q.size).toBe(0);
  });

  it('alternates addresses, then the clients of one address', () => {
    const q = new FairQueue<string>();
    for (let i = 0; i < 3; i++) q.push(src('a', 'x'), `ax${i}`);
    for (let i = 0; i < 3; i++) q.push(src('a', 'y'), `ay${i}`);
    q.push(src('b', 'z'), 'bz0');
    expect(takeAll(q)).toEqual(['ax0', 'bz0', 'ay0', 'ax1', 'ay1', 'ax2', 'ay2']);
  });

  it('a source that comes back after emptying its queue joins the end of the line', () => {
    const q = new FairQueue<string>();
    q.push(src('a', 'x'), 'a1');
    q.push(src('b', 'y'), 'b1');
    q.push(src('b', 'y'), 'b2');
    expect(q.shift()).toBe('a1');
    q.push(src('a', 'x'), 'a2');
    expect(takeAll(q)).toEqual(['b1', 'a2', 'b2']);
  });

  it('evicts the newest of the longest queue, by address then by client', () => {
    const q = new FairQueue<string>();
    q.push(src('a', 'x'), 'ax0');
    q.push(src('a', 'y'), 'ay0');
    q.push(src('a', 'y'), 'ay1');
    q.push(src('b', 'z'), 'bz0');
    expect(q.evictFor(src('c', 'w'))).toBe('ay1');
    expect(q.size).toBe(3);
    // A tie goes against the newcomer: its own queue is as long as the longest.
    expect(q.evictFor(src('a', 'x'))).toBeUndefined();
    // A new client of the busiest address takes from that address's longest client.
    expect(q.evictFor(src('a', 'w'))).toBe('ax0');
    expect(q.evictFor(src('b', 'z'))).toBeUndefined();
    expect(takeAll(q)).toEqual(['ay0', 'bz0']);
  });

  it('drains everything and is empty after', () => {
    const q = new FairQueue<number>();
    q.push(src('a', 'x'), 1);
    q.push(src('b', 'x'), 2);
    expect([...q.drain()].sort()).toEqual([1, 2]);
    expect(q.size).toBe(0);
    expect(q.shift()).toBeUndefined();
  });
});

/** The DTLS session cache's bounds: the least recently stored goes first, and sessions age out. */
import { describe, expect, it } from 'vitest';
import { SessionCache, type ResumableSession } from '../../../../src/security/dtls/session-cache.js';

const session = (at: number): ResumableSession => ({ master: Buffer.alloc(48, 1), suite: 0xc0a8, ems: true, at });
const id = (n: number): Buffer => Buffer.alloc(32, n);

describe('SessionCache', () => {
  it('holds at most `max` sessions, forgetting the least recently stored', () => {
    const c = new SessionCache(2, 60_000, () => 0);
    c.put(id(1), session(0));
    c.put(id(2), session(0));
    c.put(id(1), session(0)); // stored again: now the most recent
    c.put(id(3), session(0));
    expect(c.size).toBe(2);
    expect(c.get(id(2))).toBeUndefined();
    expect(c.get(id(1))).toBeDefined();
    expect(c.get(id(3))).toBeDefined();
  });

  it('forgets a session older than its lifetime', () => {
    let now = 0;
    const c = new SessionCache(10, 1000, () => now);
    c.put(id(1), session(0));
    now = 1000;
    expect(c.get(id(1))).toBeDefined();
    now = 1001;
    expect(c.get(id(1))).toBeUndefined();
    expect(c.size).toBe(0);
  });
});

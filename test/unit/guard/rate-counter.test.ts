import { describe, expect, it } from 'vitest';
import { EmbeddedRateCounter } from '../../../src/guard/rate-counter.js';
import { Limiter } from '../../../src/guard/limiter.js';
import { embeddedRateCounters } from '../../../src/guard/rate-counter.js';
import { listenerLimits } from '../../../src/guard/listener-limits.js';
import type { RateLimitsConfig } from '../../../src/config/types.js';

describe('EmbeddedRateCounter', () => {
  it('take: the burst, then refusal with the wait until a token returns; nothing is taken when refused', () => {
    let t = 0;
    const c = new EmbeddedRateCounter({ perSecond: 10, burst: 2 }, () => t);
    expect([c.take('a', 1), c.take('a', 1)]).toEqual([0, 0]);
    expect(c.take('a', 1)).toBe(100);
    t = 50;
    expect(c.take('a', 1)).toBe(50);
    t = 100;
    expect(c.take('a', 1)).toBe(0);
    // Another key has its own bucket.
    expect(c.take('b', 1)).toBe(0);
  });

  it('take: a cost above the burst is taken from a full bucket, leaving a debt', () => {
    let t = 0;
    const c = new EmbeddedRateCounter({ perSecond: 100, burst: 100 }, () => t);
    expect(c.take('a', 300)).toBe(0);
    expect(c.take('a', 1)).toBe(2010);
    t = 2010;
    expect(c.take('a', 1)).toBe(0);
  });

  it('charge: always takes, and says how long until the debt is paid', () => {
    const c = new EmbeddedRateCounter({ perSecond: 20, burst: 5 }, () => 0);
    for (let i = 0; i < 5; i++) expect(c.charge('a', 1)).toBe(0);
    expect(c.charge('a', 1)).toBe(50);
    expect(c.charge('a', 1)).toBe(100);
  });

  it('perSecond 0 never limits and keeps nothing', () => {
    const c = new EmbeddedRateCounter({ perSecond: 0, burst: 1 }, () => 0);
    for (let i = 0; i < 10; i++) expect(c.take(`k${i}`, 5)).toBe(0);
    expect(c.size).toBe(0);
  });

  it('forgets refilled buckets as it is used, and never holds more than maxKeys', () => {
    let t = 0;
    const c = new EmbeddedRateCounter({ perSecond: 10, burst: 1 }, () => t, 50);
    for (let i = 0; i < 200; i++) c.take(`k${i}`, 1);
    expect(c.size).toBeLessThanOrEqual(50);
    // A second later every bucket has refilled: new traffic sweeps the idle ones away, two each
    // time a bucket in use is moved to the recent end (at most once a second, not per message).
    t = 1000;
    for (let i = 0; i < 60; i++) c.take('busy', 1);
    expect(c.size).toBe(49);
    for (let i = 0; i < 30; i++) {
      t += 1000;
      c.take('busy', 1);
    }
    expect(c.size).toBe(1);
  });
});

const spec = (perSecond: number, burst: number) => ({ perSecond, burst });
const scoped = (s: { perSecond: number; burst: number }) => ({ clientId: s, principal: s, address: s, prefix: s });
const OFF = scoped(spec(0, 1));
const base: RateLimitsConfig = {
  action: 'enforce',
  mqtt5: 'puback',
  mqtt5DisconnectReasonCode: 150,
  messages: { ...OFF, prefix: spec(1, 2) },
  bytes: OFF,
  subscriptions: OFF,
  links: OFF,
};

describe('Limiter', () => {
  it('keys addresses by /24 (IPv4) and /64 (IPv6) prefixes: neighbours share the prefix bucket', () => {
    const seen: string[] = [];
    const l = new Limiter({
      listener: 'l',
      config: () => base,
      counters: embeddedRateCounters(() => 0),
      exempt: (a) => a === '10.9.9.9',
      overloadPauseMs: () => 0,
      onThrottle: (t, k) => seen.push(`${t.scope}:${k.scoped[t.scope]}`),
    });
    expect(l.keys('192.0.2.7', 'a').scoped).toEqual({ clientId: 'a', principal: undefined, address: '192.0.2.7', prefix: '192.0.2.0/24' });
    expect(l.keys('2001:db8:1:2::7').scoped.prefix).toBe('2001:db8:1:2:0:0:0:0/64');
    expect(l.admit(l.keys('192.0.2.7', 'a'), 'messages')).toBeUndefined();
    expect(l.admit(l.keys('192.0.2.8', 'b'), 'messages')).toBeUndefined();
    expect(l.admit(l.keys('192.0.2.9', 'c'), 'messages')?.scope).toBe('prefix');
    expect(l.admit(l.keys('192.0.3.9', 'd'), 'messages')).toBeUndefined();
    expect(seen).toEqual(['prefix:192.0.2.0/24']);
    // Exempt addresses have no keys at all.
    expect(Object.values(l.keys('10.9.9.9', 'x', 'p').scoped).every((k) => k === undefined)).toBe(true);
  });

  it('a listener override replaces only the keys it names', () => {
    const merged = listenerLimits(base, { mqtt5: 'disconnect', messages: { clientId: { perSecond: 5 } } });
    expect(merged.mqtt5).toBe('disconnect');
    expect(merged.messages.clientId).toEqual({ perSecond: 5, burst: 1 });
    expect(merged.messages.prefix).toEqual(spec(1, 2));
    expect(merged.bytes).toBe(base.bytes);
  });
});

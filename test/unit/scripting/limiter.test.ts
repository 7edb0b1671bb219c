/**
 * The scripting stage's limiters with an injected clock: the throttle by
 * client id and by remote address, and a script's suspension with back-off.
 */
import { describe, expect, it } from 'vitest';
import { ClientThrottle, Suspension } from '../../../src/scripting/limiter.js';

describe('ClientThrottle', () => {
  const limits = { failures: 2, addressFailures: 3, cooldownMs: 1000, maxDevices: 100 };
  const from = (clientId: string, remoteAddress = '10.0.0.1') => ({ protocol: 'mqtt', clientId, remoteAddress });

  it('throttles an address whose client ids each fail less than failures times', () => {
    let now = 0;
    const t = new ClientThrottle(limits, () => now);
    expect(t.failed(from('a'))).toBeUndefined();
    expect(t.failed(from('b'))).toBeUndefined();
    expect(t.failed(from('c'))).toBe('address');
    expect(t.blocked(from('d'))).toEqual({ ms: 1000, by: 'address' });
    expect(t.blocked(from('d', '10.0.0.2'))).toBeUndefined();
    now = 1000;
    expect(t.blocked(from('d'))).toBeUndefined();
  });

  it('a success from the address starts its count afresh (NAT neighbours of a failing device)', () => {
    const t = new ClientThrottle(limits, () => 0);
    t.failed(from('bad'));
    t.succeeded(from('good'));
    t.failed(from('bad2'));
    expect(t.failed(from('bad3'))).toBeUndefined();
  });

  it('still throttles one client id after failures, by client', () => {
    const t = new ClientThrottle({ ...limits, addressFailures: 100 }, () => 0);
    t.failed(from('a'));
    expect(t.failed(from('a'))).toBe('client');
    expect(t.blocked(from('a'))?.by).toBe('client');
    expect(t.blocked(from('b'))).toBeUndefined();
  });
});

describe('Suspension', () => {
  it('doubles after each failed trial up to maxMs and starts over after a success', () => {
    let now = 0;
    const s = new Suspension({ timeouts: 3, initialMs: 100, maxMs: 300 }, () => now);
    expect(s.left()).toBe(0);
    expect(s.suspend()).toBe(100);
    expect(s.left()).toBe(100);
    now = 100;
    expect(s.left()).toBe(0);
    expect(s.takeTrial()).toBe(true);
    expect(s.takeTrial()).toBe(false);
    expect(s.suspend()).toBe(200);
    now = 300;
    expect(s.suspend()).toBe(300);
    now = 600;
    expect(s.suspend()).toBe(300);
    s.reset();
    expect(s.left()).toBe(0);
    expect(s.takeTrial()).toBe(false);
    expect(s.suspend()).toBe(100);
  });
});

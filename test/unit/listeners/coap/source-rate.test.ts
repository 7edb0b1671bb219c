import { describe, expect, it } from 'vitest';
import { SourceRateLimiter, sourceKey } from '../../../../src/listeners/coap/source-rate.js';

describe('sourceKey', () => {
  it('keys IPv4 by address, also when written IPv4-mapped', () => {
    expect(sourceKey('192.0.2.7', 64)).toBe('192.0.2.7');
    expect(sourceKey('::ffff:192.0.2.7', 64)).toBe('192.0.2.7');
    expect(sourceKey('::FFFF:192.0.2.7', 64)).toBe('192.0.2.7');
  });

  it('keys IPv6 by prefix, whatever the spelling and zone', () => {
    const k = '2001:db8:1:2:0:0:0:0/64';
    expect(sourceKey('2001:db8:1:2::1', 64)).toBe(k);
    expect(sourceKey('2001:0DB8:0001:0002:aaaa:bbbb:cccc:dddd', 64)).toBe(k);
    expect(sourceKey('2001:db8:1:2::1%eth0', 64)).toBe(k);
    expect(sourceKey('2001:db8:1:3::1', 64)).not.toBe(k);
    expect(sourceKey('2001:db8:1:2::1', 56)).toBe('2001:db8:1:0:0:0:0:0/56');
    expect(sourceKey('2001:db8:1:2ff::1', 56)).toBe('2001:db8:1:200:0:0:0:0/56');
    expect(sourceKey('::1', 128)).toBe('0:0:0:0:0:0:0:1/128');
    expect(sourceKey('::1', 64)).toBe('0:0:0:0:0:0:0:0/64');
    expect(sourceKey('64:ff9b::192.0.2.7', 128)).toBe('64:ff9b:0:0:0:0:c000:207/128');
  });
});

describe('SourceRateLimiter', () => {
  it('forgets refilled buckets and stays bounded when full of limited sources', () => {
    const r = new SourceRateLimiter({ ratePerSecond: 1, burst: 1, ipv6PrefixBits: 64, maxSources: 2 });
    expect(r.take('a', 0)).toBe(true);
    expect(r.take('a', 0)).toBe(false);
    expect(r.retryAfterMs('a')).toBe(1000);
    expect(r.shouldReport('a', 0)).toBe(true);
    expect(r.shouldReport('a', 500)).toBe(false);
    expect(r.take('b', 0)).toBe(true);
    expect(r.take('c', 0)).toBe(true); // full of limited sources: the oldest ('a') is forgotten
    expect(r.size).toBe(2);
    r.sweep(1000); // both refilled by now
    expect(r.size).toBe(0);
  });

  it('reports a source once a second, and again for every burst of requests refused', () => {
    const r = new SourceRateLimiter({ ratePerSecond: 1, burst: 3, ipv6PrefixBits: 64, maxSources: 10 });
    for (let i = 0; i < 3; i++) expect(r.take('a', 0)).toBe(true);
    expect(r.take('a', 0)).toBe(false);
    expect(r.shouldReport('a', 0)).toBe(true);
    let reports = 0;
    // Within the same second: 9 more refusals are three bursts' worth, so three more reports.
    for (let i = 0; i < 9; i++) {
      expect(r.take('a', 10)).toBe(false);
      if (r.shouldReport('a', 10)) reports++;
    }
    expect(reports).toBe(3);
    // A second later: the refilled token is taken, and one refusal is reported again on its own.
    expect(r.take('a', 1010)).toBe(true);
    expect(r.take('a', 1010)).toBe(false);
    expect(r.shouldReport('a', 1010)).toBe(true);
  });

  it('admits everything when the rate is 0', () => {
    const r = new SourceRateLimiter({ ratePerSecond: 0, burst: 1, ipv6PrefixBits: 64, maxSources: 2 });
    for (let i = 0; i < 5; i++) expect(r.take('a', 0)).toBe(true);
    expect(r.size).toBe(0);
  });
});

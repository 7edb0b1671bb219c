import { describe, expect, it } from 'vitest';
import { Block1Assembler, Block2Store, sliceBlock } from '../../../../src/listeners/coap/blockwise.js';
import { ExchangeCache } from '../../../../src/listeners/coap/exchanges.js';
import { PeerTable } from '../../../../src/listeners/coap/peers.js';
import { blockValue, readBlock, szxFor, uint, readUint } from '../../../../src/listeners/coap/options.js';

describe('Block1 reassembly (RFC 7959 §2.5)', () => {
  const block = (num: number, more: boolean, szx = 0) => ({ num, more, szx });

  it('continues, completes, and restarts on block 0', () => {
    const a = new Block1Assembler(100, 1000);
    expect(a.add('k', block(0, true), Buffer.alloc(16, 1), 0).kind).toBe('continue');
    expect(a.add('k', block(1, true), Buffer.alloc(16, 2), 0).kind).toBe('continue');
    const done = a.add('k', block(2, false), Buffer.from([3, 3]), 0);
    expect(done.kind === 'complete' && [...done.payload.subarray(14, 18)]).toEqual([1, 1, 2, 2]);
    expect(done.kind === 'complete' && done.payload.length).toBe(34);
    expect(a.active).toBe(0);
  });

  it('answers incomplete for gaps, short blocks and expired transfers; too-large over the maximum', () => {
    const a = new Block1Assembler(40, 1000);
    expect(a.add('k', block(1, true), Buffer.alloc(16), 0).kind).toBe('incomplete');
    a.add('k', block(0, true), Buffer.alloc(16), 0);
    expect(a.add('k', block(2, true), Buffer.alloc(16), 0).kind).toBe('incomplete');
    expect(a.add('s', block(0, true), Buffer.alloc(15), 0).kind).toBe('incomplete');
    a.add('t', block(0, true), Buffer.alloc(16), 0);
    expect(a.add('t', block(1, true), Buffer.alloc(16), 5000).kind).toBe('incomplete'); // expired
    a.add('u', block(0, true), Buffer.alloc(16), 0);
    a.add('u', block(1, true), Buffer.alloc(16), 0);
    expect(a.add('u', block(2, false), Buffer.alloc(16), 0).kind).toBe('too-large');
  });
});

describe('Block2 store and slicing', () => {
  it('slices by block number and size, and keeps replies until they expire', () => {
    const p = Buffer.from('abcdefghijklmnopqrstuvwxyz0123456789');
    expect(sliceBlock(p, 0, 0)).toEqual({ data: p.subarray(0, 16), more: true });
    expect(sliceBlock(p, 2, 0)).toEqual({ data: p.subarray(32), more: false });
    expect(sliceBlock(p, 3, 0)).toBeUndefined();
    const s = new Block2Store(100, 10);
    const held = s.hold('k', 0x45, p, 0, 0);
    expect(held.etag.length).toBe(4);
    expect(s.get('k', 50)).toBe(held);
    expect(s.get('k', 150)).toBeUndefined();
  });

  it('encodes Block and uint values minimally', () => {
    expect(readBlock(blockValue({ num: 1000, more: true, szx: 6 }))).toEqual({ num: 1000, more: true, szx: 6 });
    expect(uint(0).length).toBe(0);
    expect(readUint(uint(0x123456))).toBe(0x123456);
    expect(szxFor(1024)).toBe(6);
    expect(szxFor(100)).toBe(2);
    expect(szxFor(10)).toBe(0);
  });
});

describe('deduplication cache (RFC 7252 §4.5)', () => {
  it('forgets exchanges after their lifetime and the oldest when full', () => {
    const c = new ExchangeCache(1000, 3);
    c.add(1, 0);
    c.add(2, 10);
    expect(c.get(1)).toBeDefined();
    c.add(3, 1005); // sweeps 1
    expect(c.get(1)).toBeUndefined();
    expect(c.get(2)).toBeDefined();
    c.add(4, 1006);
    c.add(5, 1007); // full: 2 is evicted early
    expect(c.get(2)).toBeUndefined();
    expect(c.evicted).toBe(1);
  });
});

describe('per-source state', () => {
  it('limits the request rate with a token bucket', () => {
    const t = new PeerTable({ maxPeers: 10, idleMs: 1000, ratePerSecond: 10, burst: 2, ipv6PrefixBits: 64 });
    const p = t.touch('10.0.0.1', 5683, 0)!;
    expect(t.take(p, 0)).toBe(true);
    expect(t.take(p, 0)).toBe(true);
    expect(t.take(p, 0)).toBe(false);
    expect(t.retryAfterMs(p)).toBe(100);
    expect(t.take(p, 100)).toBe(true);
  });

  it('shares one bucket among all ports of an address, and among an IPv6 /64', () => {
    const t = new PeerTable({ maxPeers: 10, idleMs: 1000, ratePerSecond: 1, burst: 2, ipv6PrefixBits: 64 });
    expect(t.take(t.touch('10.0.0.1', 1, 0)!, 0)).toBe(true);
    expect(t.take(t.touch('10.0.0.1', 2, 0)!, 0)).toBe(true);
    expect(t.take(t.touch('10.0.0.1', 3, 0)!, 0)).toBe(false); // a fresh port is the same source
    expect(t.take(t.touch('10.0.0.2', 3, 0)!, 0)).toBe(true);
    expect(t.take(t.touch('2001:db8:1:2::a', 1, 0)!, 0)).toBe(true);
    expect(t.take(t.touch('2001:db8:1:2:ffff::b', 1, 0)!, 0)).toBe(true);
    expect(t.take(t.touch('2001:db8:1:2::c', 9, 0)!, 0)).toBe(false); // same /64
    expect(t.take(t.touch('2001:db8:1:3::a', 1, 0)!, 0)).toBe(true); // another /64
  });

  it('issues Echo values only that source can return, within two windows', () => {
    const t = new PeerTable({ maxPeers: 10, idleMs: 1000, ratePerSecond: 0, burst: 1, ipv6PrefixBits: 64 });
    const a = t.touch('10.0.0.1', 1, 0)!;
    const b = t.touch('10.0.0.1', 2, 0)!;
    const echo = t.echoFor(a, 0);
    expect(t.checkEcho(a, echo, 59_000)).toBe(true);
    expect(t.checkEcho(a, echo, 119_000)).toBe(true);
    expect(t.checkEcho(a, echo, 180_000)).toBe(false);
    expect(t.checkEcho(b, echo, 0)).toBe(false);
    expect(t.checkEcho(a, Buffer.alloc(3), 0)).toBe(false);
  });

  it('names IPv6 sources with brackets, wraps message ids, and forgets idle sources that hold nothing', () => {
    const t = new PeerTable({ maxPeers: 2, idleMs: 1000, ratePerSecond: 0, burst: 1, ipv6PrefixBits: 64 });
    const v6 = t.touch('::1', 5683, 0)!;
    expect(v6.key).toBe('[::1]:5683');
    v6.nextMessageId = 0xffff;
    expect(t.messageId(v6)).toBe(0xffff);
    expect(t.messageId(v6)).toBe(0);
    const held = t.touch('10.0.0.2', 1, 0)!;
    held.holds = 1;
    expect(t.touch('10.0.0.3', 1, 10)).toBeUndefined(); // full, nothing idle yet
    expect(t.touch('10.0.0.3', 1, 5000)).toBeDefined(); // v6 idle and forgotten
    expect(t.get('10.0.0.2:1')).toBe(held);
  });
});

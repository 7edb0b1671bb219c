import { describe, expect, it } from 'vitest';
import { Reassembler, fragmentHandshake, parseFragments } from '../../../../src/security/dtls/handshake.js';
import { ReplayWindow, encodeRecord, parseRecords, seqNumOf } from '../../../../src/security/dtls/record.js';
import { CookieJar } from '../../../../src/security/dtls/cookie.js';
import type { ClientHello } from '../../../../src/security/dtls/hello.js';

describe('DTLS record layer', () => {
  it('parses several records of one datagram and stops at a broken one', () => {
    const a = encodeRecord(22, 0xfefd, seqNumOf(0, 1), Buffer.from('one'));
    const b = encodeRecord(23, 0xfefd, seqNumOf(1, 2 ** 40), Buffer.from('two'));
    const recs = parseRecords(Buffer.concat([a, b, Buffer.from([22, 0xfe, 0xfd, 0, 0])]));
    expect(recs.map((r) => [r.type, r.epoch, r.seq, r.fragment.toString()])).toEqual([
      [22, 0, 1, 'one'],
      [23, 1, 2 ** 40, 'two'],
    ]);
    expect(parseRecords(Buffer.from('GET / HTTP/1.1\r\n'))).toEqual([]);
  });

  it('anti-replay window accepts each sequence number once and nothing left of the window (RFC 6347 §4.1.2.6)', () => {
    const w = new ReplayWindow();
    for (const s of [5, 3, 4]) {
      expect(w.check(s)).toBe(true);
      w.accept(s);
    }
    expect(w.check(3)).toBe(false);
    expect(w.check(2)).toBe(true);
    w.accept(100);
    expect(w.check(5)).toBe(false); // left of the 64-wide window
    expect(w.check(37)).toBe(true);
    expect(w.check(36)).toBe(false);
    expect(w.check(100)).toBe(false);
    // A checked but never accepted (not authenticated) record does not move the window.
    expect(w.check(1000)).toBe(true);
    expect(w.check(99)).toBe(true);
  });

  it('anti-replay window keeps working past 2^32 and across jumps wider than the window', () => {
    const w = new ReplayWindow();
    const base = 2 ** 40;
    for (const s of [base, base + 2, base + 64]) {
      expect(w.check(s)).toBe(true);
      w.accept(s);
    }
    // base + 64 moved the window: base is now left of it, base + 2 still inside and seen.
    expect(w.check(base)).toBe(false);
    expect(w.check(base + 2)).toBe(false);
    expect(w.check(base + 1)).toBe(true);
    expect(w.check(base + 63)).toBe(true);
    // A jump of more than the window forgets every slot; numbers inside the new window are fresh.
    w.accept(base + 1000);
    expect(w.check(base + 1000 - 62)).toBe(true);
    expect(w.check(base + 1000 - 64)).toBe(false);
    w.accept(base + 1000 - 62);
    expect(w.check(base + 1000 - 62)).toBe(false);
    // Slots between the old and the new highest number are cleared as the window moves.
    w.accept(base + 1003);
    expect(w.check(base + 1002)).toBe(true);
    expect(w.check(base + 1000)).toBe(false);
  });
});

describe('DTLS handshake fragmentation', () => {
  it('reassembles fragments that arrive out of order and duplicated, in message_seq order', () => {
    const body1 = Buffer.alloc(300, 1);
    const body2 = Buffer.alloc(10, 2);
    const f1 = fragmentHandshake(11, 3, body1, 100).flatMap((b) => parseFragments(b));
    const f2 = parseFragments(fragmentHandshake(16, 4, body2, 100)[0]!);
    expect(f1).toHaveLength(3);
    const r = new Reassembler(3);
    expect(r.add(f2[0]!)).toEqual([]);
    expect(r.add(f1[2]!)).toEqual([]);
    expect(r.add(f1[0]!)).toEqual([]);
    expect(r.add(f1[0]!)).toEqual([]);
    const done = r.add(f1[1]!);
    expect(done.map((m) => [m.type, m.seq, m.body.length])).toEqual([
      [11, 3, 300],
      [16, 4, 10],
    ]);
    expect(done[0]!.body.equals(body1)).toBe(true);
    expect(r.add(f1[1]!)).toEqual([]); // retransmission of a delivered message
  });

  it('refuses a fragment running past its message', () => {
    const b = fragmentHandshake(1, 0, Buffer.alloc(20), 100)[0]!;
    b.writeUIntBE(15, 6, 3); // offset 15 + 20 > 20
    expect(() => parseFragments(b)).toThrow(/bad handshake fragment/);
  });
});

describe('HelloVerifyRequest cookies', () => {
  const hello = (random: number): ClientHello => ({
    version: 0xfefd,
    random: Buffer.alloc(32, random),
    sessionId: Buffer.alloc(0),
    cookie: Buffer.alloc(0),
    suites: [0xc0a8],
    suitesRaw: Buffer.from([0xc0, 0xa8]),
    compressionsRaw: Buffer.from([0]),
    extensions: new Map(),
  });

  it('binds the cookie to the address, port and hello, and rotates the secret', () => {
    let now = 0;
    const jar = new CookieJar(1000, () => now);
    const cookie = jar.make('127.0.0.1', 5000, hello(1));
    expect(jar.verify('127.0.0.1', 5000, { ...hello(1), cookie })).toBe(true);
    expect(jar.verify('127.0.0.2', 5000, { ...hello(1), cookie })).toBe(false);
    expect(jar.verify('127.0.0.1', 5001, { ...hello(1), cookie })).toBe(false);
    expect(jar.verify('127.0.0.1', 5000, { ...hello(2), cookie })).toBe(false);
    now = 1500; // one rotation: the previous secret still counts
    expect(jar.verify('127.0.0.1', 5000, { ...hello(1), cookie })).toBe(true);
    now = 2600; // two rotations: stale
    expect(jar.verify('127.0.0.1', 5000, { ...hello(1), cookie })).toBe(false);
  });
});

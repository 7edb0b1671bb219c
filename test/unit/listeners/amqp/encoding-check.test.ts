import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { measure } from '../../../../src/listeners/amqp/encoding-check.js';
import { FrameScanner } from '../../../../src/listeners/amqp/frame-scanner.js';

const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);
/** An AMQP frame on channel 0 around `body`. */
function frame(body: number[]): Buffer {
  const head = Buffer.from([0, 0, 0, 0, 2, 0, 0, 0]);
  head.writeUInt32BE(8 + body.length, 0);
  return Buffer.concat([head, Buffer.from(body)]);
}
/** open(container-id "c"): described list of one str8. */
const OPEN = [0x00, 0x53, 0x10, 0xc0, 0x04, 0x01, 0xa1, 0x01, 0x63];

describe('AMQP performative encoding check', () => {
  it('measures a well-formed open to its end', () => {
    expect(measure(Buffer.from(OPEN), 0, OPEN.length)).toBe(OPEN.length);
  });

  it('reports a string that overruns its list (the fuzzing finding)', () => {
    // list8 of size 3 holding a str8 that claims 153 bytes.
    const b = Buffer.from([0x00, 0x53, 0x10, 0xc0, 3, 1, 0xa1, 153]);
    expect(measure(b, 0, b.length)).toEqual({ invalid: expect.stringMatching(/overruns/) });
  });

  it('answers short for a value cut by the end of the bytes so far, and counts fixed-width arrays', () => {
    expect(measure(Buffer.from(OPEN), 0, 5)).toBe('short');
    const zeros = Buffer.from([0xf0, 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0x40]); // 2^32-1 nulls in 5 bytes: null has width 0
    expect(measure(zeros, 0, zeros.length)).toBe(zeros.length);
    const longs = Buffer.from([0xe0, 2, 200, 0x81]); // 200 longs in 2 bytes
    expect(measure(longs, 0, longs.length)).toEqual({ invalid: expect.stringMatching(/array/) });
  });

  it('bounds nesting and rejects unknown subcategories', () => {
    const deep = Buffer.alloc(100, 0x00);
    expect(measure(deep, 0, deep.length)).toEqual({ invalid: expect.stringMatching(/nested/) });
    expect(measure(Buffer.from([0x21]), 0, 1)).toEqual({ invalid: expect.stringMatching(/constructor 0x21/) });
  });

  it('the frame scanner refuses the overrunning open with a decode violation, whole or dripped', () => {
    const bad = Buffer.concat([AMQP_HEADER, frame([0x00, 0x53, 0x10, 0xc0, 3, 1, 0xa1, 153]), Buffer.from([81, 254])]);
    expect(new FrameScanner(65536).push(bad)?.kind).toBe('decode');
    const s = new FrameScanner(65536);
    const found = [...bad].map((byte) => s.push(Buffer.from([byte]))).find((v) => v !== undefined);
    expect(found?.kind).toBe('decode');
  });

  it('the frame scanner passes a valid open dripped byte by byte, and heartbeats', () => {
    const good = Buffer.concat([AMQP_HEADER, frame(OPEN), frame([])]);
    const s = new FrameScanner(65536);
    for (const byte of good) expect(s.push(Buffer.from([byte]))).toBeUndefined();
    expect(new FrameScanner(65536).push(good)).toBeUndefined();
  });

  it('never throws on generated input: a measure, short or invalid; a violation or nothing (seeded)', () => {
    const seed = Number(process.env.FUZZ_SEED ?? 20261207);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(399), (bytes, cut) => {
        const b = Buffer.from(bytes);
        const m = measure(b, 0, Math.min(cut, b.length));
        expect(typeof m === 'number' || m === 'short' || typeof m.invalid === 'string').toBe(true);
        const s = new FrameScanner(512);
        const v = s.push(Buffer.concat([AMQP_HEADER, b.subarray(0, cut)]));
        s.push(b.subarray(cut));
        expect(v === undefined || ['bad-header', 'malformed', 'oversize', 'decode'].includes(v.kind)).toBe(true);
      }),
      { seed, numRuns: 2000 },
    );
  });
});

/** Framing of plugins/framed-tcp: frames split and joined across chunks, limits, and the frames it writes. */
import { describe, expect, it } from 'vitest';
import { FrameReader, frameOf } from '../framing.js';

describe('framed-tcp framing', () => {
  it('reads length-prefixed frames split across chunks and several in one chunk', () => {
    const r = new FrameReader({ type: 'length-prefixed', lengthBytes: 2, byteOrder: 'big' }, 100);
    const bytes = Buffer.concat([frameOf({ type: 'length-prefixed' }, Buffer.from('abc')), frameOf({ type: 'length-prefixed' }, Buffer.from('de'))]);
    expect(r.push(bytes.subarray(0, 1))).toEqual([]);
    expect(r.push(bytes.subarray(1, 4))).toEqual([]);
    expect(r.push(bytes.subarray(4)).map((f) => f?.toString())).toEqual(['abc', 'de']);
  });

  it('reads little-endian 4-byte lengths', () => {
    const framing = { type: 'length-prefixed', lengthBytes: 4, byteOrder: 'little' } as const;
    const frame = frameOf(framing, Buffer.from('xyz'));
    expect(frame.subarray(0, 4)).toEqual(Buffer.from([3, 0, 0, 0]));
    expect(new FrameReader(framing, 100).push(frame).map((f) => f?.toString())).toEqual(['xyz']);
  });

  it('reads delimiter-terminated frames and keeps a partial one', () => {
    const r = new FrameReader({ type: 'delimiter', delimiter: '0d0a' }, 100);
    expect(r.push(Buffer.from('one\r\ntwo\r\nthr')).map((f) => f?.toString())).toEqual(['one', 'two']);
    expect(r.push(Buffer.from('ee\r\n')).map((f) => f?.toString())).toEqual(['three']);
  });

  it('refuses a frame over the limit, announced or still unterminated', () => {
    expect(new FrameReader({ type: 'length-prefixed' }, 10).push(Buffer.from([0, 11]))).toEqual([null]);
    expect(new FrameReader({ type: 'delimiter' }, 4).push(Buffer.from('12345'))).toEqual([null]);
  });

  it('writes a frame of several parts (echoed header, answer) as their concatenation, in every framing', () => {
    const header = Buffer.from([1, 2, 3]);
    const body = Buffer.from([6]);
    for (const framing of [
      { type: 'length-prefixed', lengthBytes: 1 },
      { type: 'length-prefixed', lengthBytes: 2, byteOrder: 'little' },
      { type: 'length-prefixed', lengthBytes: 4, byteOrder: 'big' },
      { type: 'delimiter', delimiter: '0d0a' },
    ] as const) {
      expect(frameOf(framing, header, body)).toEqual(frameOf(framing, Buffer.concat([header, body])));
      expect(new FrameReader(framing, 100).push(frameOf(framing, header, body))).toEqual([Buffer.from([1, 2, 3, 6])]);
    }
    expect(frameOf({ type: 'length-prefixed', lengthBytes: 2, byteOrder: 'big' }, header, body)).toEqual(Buffer.from([0, 4, 1, 2, 3, 6]));
  });
});

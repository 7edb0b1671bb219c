import { describe, expect, it } from 'vitest';
import { FrameScanner } from '../../../../src/listeners/amqp/frame-scanner.js';

const AMQP = Buffer.from('AMQP\x00\x01\x00\x00', 'latin1');
const SASL = Buffer.from('AMQP\x03\x01\x00\x00', 'latin1');

/** A frame whose body is a performative (an empty described list) and zero bytes of payload. */
function frame(bodyLen: number, type = 0, doff = 2): Buffer {
  const b = Buffer.alloc(8 + bodyLen);
  if (bodyLen >= 4) b.set([0x00, 0x53, 0x14, 0x45], 8);
  b.writeUInt32BE(8 + bodyLen, 0);
  b[4] = doff;
  b[5] = type;
  return b;
}

describe('FrameScanner', () => {
  it('accepts a header and frames split at every byte boundary', () => {
    const s = new FrameScanner(512);
    const all = Buffer.concat([AMQP, frame(20), frame(0), frame(100)]);
    for (let i = 0; i < all.length; i++) expect(s.push(all.subarray(i, i + 1))).toBeUndefined();
    expect(s.frames).toBe(3);
    expect(s.currentLayer).toBe('amqp');
  });

  it('accepts SASL frames, then the AMQP header, then AMQP frames', () => {
    const s = new FrameScanner(512);
    expect(s.push(Buffer.concat([SASL, frame(10, 1), frame(12, 1), AMQP, frame(30, 0)]))).toBeUndefined();
    expect(s.currentLayer).toBe('amqp');
  });

  it('rejects a frame larger than max-frame-size before its body arrives', () => {
    const s = new FrameScanner(512);
    const head = Buffer.alloc(8);
    head.writeUInt32BE(513, 0);
    head[4] = 2;
    expect(s.push(Buffer.concat([AMQP, head]))).toMatchObject({ kind: 'oversize' });
  });

  it('rejects bad data offsets, sizes below the header and wrong frame types', () => {
    expect(new FrameScanner(512).push(Buffer.concat([AMQP, frame(4, 0, 1)]))).toMatchObject({ kind: 'malformed' });
    const tiny = Buffer.alloc(8);
    tiny.writeUInt32BE(4, 0);
    tiny[4] = 2;
    expect(new FrameScanner(512).push(Buffer.concat([AMQP, tiny]))).toMatchObject({ kind: 'malformed' });
    expect(new FrameScanner(512).push(Buffer.concat([AMQP, frame(4, 1)]))).toMatchObject({ kind: 'malformed' });
    expect(new FrameScanner(512).push(Buffer.concat([SASL, frame(4, 0)]))).toMatchObject({ kind: 'malformed' });
  });

  it('answers a foreign or unsupported header as bad-header', () => {
    expect(new FrameScanner(512).push(Buffer.from('GET / HTTP/1.1\r\n'))).toMatchObject({ kind: 'bad-header' });
    expect(new FrameScanner(512).push(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1'))).toMatchObject({ kind: 'bad-header' });
    expect(new FrameScanner(512).push(Buffer.from('AMQP\x02\x01\x00\x00', 'latin1'))).toMatchObject({ kind: 'bad-header' });
  });

  it('rejects a second AMQP header and keeps failing after the first violation', () => {
    const s = new FrameScanner(512);
    expect(s.push(Buffer.concat([AMQP, frame(4), AMQP]))).toMatchObject({ kind: 'malformed' });
    expect(s.push(frame(4))).toMatchObject({ kind: 'malformed' });
  });
});

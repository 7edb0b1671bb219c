import { describe, expect, it } from 'vitest';
import mqttPacket from 'mqtt-packet';
import { Framer } from '../../../../src/listeners/mqtt/framing.js';

const publish = (size: number, topic = 't'): Buffer =>
  mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.alloc(size, size & 0xff), qos: 0, dup: false, retain: false });

/** Feeds `chunks` and returns the frames handed on, copied (views of a later concat would not show a wrong split). */
function frames(f: Framer, chunks: readonly Buffer[]): { frames: Buffer[]; bodyStarts: number[]; problems: unknown[] } {
  const out: Buffer[] = [];
  const bodyStarts: number[] = [];
  const problems: unknown[] = [];
  for (const c of chunks) {
    const p = f.push(c, (frame, bodyStart) => {
      out.push(Buffer.from(frame));
      bodyStarts.push(bodyStart);
      return true;
    });
    if (p) problems.push(p);
  }
  return { frames: out, bodyStarts, problems };
}

describe('Framer', () => {
  it('hands on every packet whole, in order, in any chunking', () => {
    const packets = [publish(10), publish(500), publish(994), publish(0), publish(127), publish(128)];
    const bytes = Buffer.concat(packets);
    expect(publish(994).length).toBe(1000); // exactly at the limit
    for (const step of [1, 2, 3, 7, 64, 999, bytes.length]) {
      const f = new Framer(1000);
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += step) chunks.push(bytes.subarray(i, i + step));
      const got = frames(f, chunks);
      expect(got.problems).toEqual([]);
      expect(got.frames).toEqual(packets);
      // One Remaining Length byte below 128 bytes of body, two from there.
      expect(got.bodyStarts).toEqual(packets.map((p) => (p.length - 2 < 128 ? 2 : 3)));
      expect(f.midPacket).toBe(false);
    }
  });

  it('hands on packets inside a chunk as views of it, not copies', () => {
    const chunk = Buffer.concat([publish(10), publish(20)]);
    const seen: Buffer[] = [];
    new Framer(1000).push(chunk, (frame) => (seen.push(frame), true));
    expect(seen.map((s) => s.buffer === chunk.buffer)).toEqual([true, true]);
  });

  it('stops handing on packets when told to', () => {
    const chunk = Buffer.concat([publish(1), publish(2), publish(3)]);
    let n = 0;
    new Framer(1000).push(chunk, () => ++n < 2);
    expect(n).toBe(2);
  });

  it('reports a packet over the limit from its fixed header alone', () => {
    const f = new Framer(1000);
    expect(f.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), () => true)).toEqual({ kind: 'oversize', size: 5 + 268435455 });
    const big = publish(1000);
    const g = new Framer(1000);
    expect(g.push(big.subarray(0, 3), () => true)).toEqual({ kind: 'oversize', size: big.length });
    // The header split across reads is judged once it is whole.
    const h = new Framer(1000);
    expect(h.push(big.subarray(0, 2), () => true)).toBeUndefined();
    expect(h.push(big.subarray(2, 3), () => true)).toEqual({ kind: 'oversize', size: big.length });
  });

  it('reports a fifth Remaining Length byte as malformed, however it is split', () => {
    const bad = Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]);
    expect(new Framer(1 << 30).push(bad, () => true)).toMatchObject({ kind: 'malformed-length' });
    const f = new Framer(1 << 30);
    expect(f.push(bad.subarray(0, 3), () => true)).toBeUndefined();
    expect(f.push(bad.subarray(3), () => true)).toMatchObject({ kind: 'malformed-length' });
  });

  it('reports a Remaining Length longer than its value needs as malformed [MQTT-1.5.5-1]', () => {
    // 0x80 0x00 encodes 0 in two bytes.
    expect(new Framer(1000).push(Buffer.from([0xc0, 0x80, 0x00]), () => true)).toEqual({
      kind: 'malformed-length',
      detail: 'remaining length not in its shortest form',
    });
    // 0x81 0x80 0x00 encodes 1 in three.
    expect(new Framer(1000).push(Buffer.from([0x30, 0x81, 0x80, 0x00]), () => true)).toMatchObject({ kind: 'malformed-length' });
    // The shortest forms pass.
    const frames: number[] = [];
    new Framer(1000).push(Buffer.from([0xc0, 0x00, 0xd0, 0x00]), (f) => frames.push(f.length) > 0);
    expect(frames).toEqual([2, 2]);
  });

  it('knows when it is inside a packet', () => {
    const f = new Framer(1000);
    f.push(Buffer.from([0x10]), () => true);
    expect(f.midPacket).toBe(true);
    f.push(Buffer.from([0x02, 0x00]), () => true);
    expect(f.midPacket).toBe(true);
    f.push(Buffer.from([0x00]), () => true);
    expect(f.midPacket).toBe(false);
  });
});

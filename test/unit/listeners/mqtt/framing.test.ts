import { describe, expect, it } from 'vitest';
import mqttPacket from 'mqtt-packet';
import { FrameGuard } from '../../../../src/listeners/mqtt/framing.js';

const publish = (size: number): Buffer =>
  mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(size), qos: 0, dup: false, retain: false });

describe('FrameGuard', () => {
  it('passes packets up to the limit, in any chunking', () => {
    const bytes = Buffer.concat([publish(10), publish(500), publish(994)]);
    expect(publish(994).length).toBe(1000); // the last is exactly 1000 bytes
    for (const step of [1, 3, 7, 64, bytes.length]) {
      const g = new FrameGuard(1000);
      for (let i = 0; i < bytes.length; i += step) expect(g.scan(bytes.subarray(i, i + step))).toBeUndefined();
      expect(g.midPacket).toBe(false);
    }
  });

  it('reports a packet over the limit from its fixed header alone', () => {
    const g = new FrameGuard(1000);
    expect(g.scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]))).toEqual({ kind: 'oversize', size: 5 + 268435455 });
    const h = new FrameGuard(1000);
    const big = publish(1000);
    expect(h.scan(big.subarray(0, 3))).toEqual({ kind: 'oversize', size: big.length });
  });

  it('reports a fifth Remaining Length byte as malformed', () => {
    const g = new FrameGuard(1 << 30);
    expect(g.scan(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]))).toEqual({ kind: 'malformed-length' });
  });

  it('knows when it is inside a packet', () => {
    const g = new FrameGuard(1000);
    g.scan(Buffer.from([0x10]));
    expect(g.midPacket).toBe(true);
    g.scan(Buffer.from([0x02, 0x00]));
    expect(g.midPacket).toBe(true);
    g.scan(Buffer.from([0x00]));
    expect(g.midPacket).toBe(false);
  });
});

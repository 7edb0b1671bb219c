import { describe, expect, it } from 'vitest';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { decodePublish } from '../../../../src/listeners/mqtt/decode-publish.js';
import { MqttProtocolViolation } from '../../../../src/listeners/mqtt/violation.js';
import { RC } from '../../../../src/listeners/mqtt/reason-codes.js';

/** The offset of the variable header: after the type byte and 1–4 Remaining Length bytes. */
function bodyStart(frame: Buffer): number {
  let i = 1;
  while (frame[i]! & 0x80) i++;
  return i + 1;
}

/** What mqtt-packet's own parser makes of the same bytes (at the protocol level of a CONNECT it saw). */
function reference(frame: Buffer, version: 4 | 5): IPublishPacket {
  const parser = mqttPacket.parser({ protocolVersion: version });
  let out: Packet | undefined;
  parser.on('packet', (p: Packet) => (out = p));
  parser.on('error', (e: Error) => {
    throw e;
  });
  parser.parse(frame);
  return out as IPublishPacket;
}

const plain = (p: IPublishPacket): Record<string, unknown> => {
  const props = p.properties && { ...p.properties, ...(p.properties.userProperties && { userProperties: { ...p.properties.userProperties } }) };
  return { ...p, payload: Buffer.from(p.payload as Buffer), ...(props && { properties: props }) };
};

function violation(fn: () => unknown): MqttProtocolViolation {
  try {
    fn();
  } catch (err) {
    if (err instanceof MqttProtocolViolation) return err;
    throw err;
  }
  throw new Error('no violation thrown');
}

const CASES: Array<{ name: string; version: 4 | 5; packet: Omit<IPublishPacket, 'cmd'> }> = [
  { name: '3.1.1 QoS 0', version: 4, packet: { topic: 'a/b', payload: Buffer.from('x'), qos: 0, dup: false, retain: false } },
  {
    name: '3.1.1 QoS 1, DUP and RETAIN',
    version: 4,
    packet: { topic: 'sensors/é/temp', payload: Buffer.alloc(300, 7), qos: 1, messageId: 65535, dup: true, retain: true },
  },
  { name: '3.1.1 empty payload', version: 4, packet: { topic: 't', payload: Buffer.alloc(0), qos: 2, messageId: 1, dup: false, retain: false } },
  { name: '5 without properties', version: 5, packet: { topic: 'x', payload: Buffer.from('{"v":1}'), qos: 1, messageId: 42, dup: false, retain: false } },
  {
    name: '5 with every PUBLISH property',
    version: 5,
    packet: {
      topic: 'devices/d1/up',
      payload: Buffer.from('hello'),
      qos: 1,
      messageId: 7,
      dup: false,
      retain: false,
      properties: {
        payloadFormatIndicator: true,
        messageExpiryInterval: 4_000_000_000,
        topicAlias: 3,
        responseTopic: 'devices/d1/down',
        correlationData: Buffer.from([0, 1, 2, 255]),
        userProperties: { a: '1', b: ['2', '3'], 'Mixed-Case': 'v' },
        contentType: 'application/json; charset=utf-8',
      },
    },
  },
  {
    name: '5 with an empty topic and an alias',
    version: 5,
    packet: { topic: '', payload: Buffer.alloc(2000, 1), qos: 0, dup: false, retain: false, properties: { topicAlias: 1 } },
  },
];

describe('decodePublish', () => {
  for (const c of CASES) {
    it(`reads what mqtt-packet reads: ${c.name}`, () => {
      const frame = mqttPacket.generate({ cmd: 'publish', ...c.packet } as IPublishPacket, { protocolVersion: c.version });
      const mine = decodePublish(frame, bodyStart(frame), c.version === 5);
      expect(plain(mine)).toEqual(plain(reference(frame, c.version)));
    });
  }

  it('gives the payload and correlation data as views of the frame, not copies', () => {
    const frame = mqttPacket.generate(
      { cmd: 'publish', topic: 't', payload: Buffer.from('abc'), qos: 0, dup: false, retain: false, properties: { correlationData: Buffer.from('id') } },
      { protocolVersion: 5 },
    );
    const p = decodePublish(frame, 2, true);
    expect((p.payload as Buffer).buffer).toBe(frame.buffer);
    expect(p.properties!.correlationData!.buffer).toBe(frame.buffer);
    expect(p.payload.toString()).toBe('abc');
  });

  it('refuses QoS 3 as malformed', () => {
    const frame = mqttPacket.generate({ cmd: 'publish', topic: 't', payload: Buffer.from('x'), qos: 1, messageId: 1, dup: false, retain: false });
    frame[0] = 0x36;
    const v = violation(() => decodePublish(frame, 2, false));
    expect(v.reasonCode).toBe(RC.MALFORMED_PACKET);
    expect(v.clause).toBe('MQTT-3.3.1-4');
  });

  it('refuses a topic, packet identifier or property that runs past the end', () => {
    // Topic length 10 in a 4-byte body.
    expect(violation(() => decodePublish(Buffer.from([0x30, 4, 0, 10, 0x61, 0x62]), 2, false)).message).toMatch(/topic name runs past the end of the packet/);
    // QoS 1 with one byte of packet identifier.
    expect(violation(() => decodePublish(Buffer.from([0x32, 4, 0, 1, 0x61, 0]), 2, false)).message).toMatch(/packet identifier runs past/);
    // Property length 9 with 2 bytes left.
    expect(violation(() => decodePublish(Buffer.from([0x30, 6, 0, 1, 0x61, 9, 0x23, 0]), 2, true)).message).toMatch(
      /properties runs past the end of the packet/,
    );
    // A topic alias (two bytes) cut short by the property length.
    const cut = violation(() => decodePublish(Buffer.from([0x30, 7, 0, 1, 0x61, 2, 0x23, 0, 1]), 2, true));
    expect(cut.reasonCode).toBe(RC.MALFORMED_PACKET);
    expect(cut.message).toMatch(/topic alias runs past the end of its properties/);
  });

  it('refuses a property PUBLISH does not carry as malformed', () => {
    // 0x11 Session Expiry Interval belongs to CONNECT/DISCONNECT.
    const v = violation(() => decodePublish(Buffer.from([0x30, 9, 0, 1, 0x61, 5, 0x11, 0, 0, 0, 1]), 2, true));
    expect(v.reasonCode).toBe(RC.MALFORMED_PACKET);
    expect(v.message).toMatch(/property 0x11 is not a PUBLISH property/);
  });

  it('refuses a property given twice that may appear once as a protocol error', () => {
    const v = violation(() => decodePublish(Buffer.from([0x30, 10, 0, 1, 0x61, 6, 0x23, 0, 1, 0x23, 0, 2]), 2, true));
    expect(v.reasonCode).toBe(RC.PROTOCOL_ERROR);
    expect(v.message).toMatch(/topic alias more than once/);
  });

  it('refuses a property length of five bytes', () => {
    const v = violation(() => decodePublish(Buffer.from([0x30, 8, 0, 1, 0x61, 0x80, 0x80, 0x80, 0x80, 0x01]), 2, true));
    expect(v.clause).toBe('MQTT-1.5.5-1');
  });

  it('keeps every value of a repeated user property, an empty one too', () => {
    // mqtt-packet tests the first value for truth and so lost '' here; both pairs are properties [MQTT-3.3.2-18].
    const frame = mqttPacket.generate(
      { cmd: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 0, dup: false, retain: false, properties: { userProperties: { k: ['', 'v'] } } },
      { protocolVersion: 5 },
    );
    expect(decodePublish(frame, 2, true).properties!.userProperties).toEqual({ k: ['', 'v'] });
  });

  it('reads a 3.1.1 PUBLISH without a property length', () => {
    // The same bytes at level 5 would read 0x7b as a property length.
    const p = decodePublish(Buffer.from([0x30, 5, 0, 1, 0x61, 0x7b, 0x7d]), 2, false);
    expect(p.payload.toString()).toBe('{}');
    expect(p.properties).toBeUndefined();
  });
});

describe('decodePublish on generated packets', () => {
  // A small deterministic generator (xorshift), so a failure names a reproducible case.
  function rng(seed: number): () => number {
    let x = seed >>> 0 || 1;
    return () => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
  }
  const TEXT = ['a', 'b/c', 'ü', '€', '😀', ' ', '+x', ''];

  function randomPacket(r: () => number, v5: boolean): IPublishPacket {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const text = (n: number): string => Array.from({ length: Math.floor(r() * n) }, () => pick(TEXT)).join('');
    const qos = pick([0, 1, 2] as const);
    const p: IPublishPacket = {
      cmd: 'publish',
      topic: text(8) || 't',
      payload: Buffer.from(Array.from({ length: Math.floor(r() * 300) }, () => Math.floor(r() * 256))),
      qos,
      dup: qos > 0 && r() < 0.5,
      retain: r() < 0.3,
      ...(qos > 0 && { messageId: 1 + Math.floor(r() * 65535) }),
    };
    if (v5 && r() < 0.8) {
      const props: NonNullable<IPublishPacket['properties']> = {};
      if (r() < 0.5) props.payloadFormatIndicator = r() < 0.5;
      if (r() < 0.5) props.messageExpiryInterval = Math.floor(r() * 2 ** 32);
      if (r() < 0.5) props.topicAlias = 1 + Math.floor(r() * 65535);
      // A Response Topic has no wildcards [MQTT-3.3.2-14].
      if (r() < 0.5) props.responseTopic = text(5).replace(/[+#]/g, '') || 'r';
      if (r() < 0.5) props.correlationData = Buffer.from(text(6));
      if (r() < 0.5) props.contentType = text(4);
      if (r() < 0.5) {
        const up: Record<string, string | string[]> = {};
        for (let i = Math.floor(r() * 4); i >= 0; i--) {
          const name = pick(['a', 'b', 'x-y']);
          // Non-empty values: mqtt-packet drops an empty value that a repeat of its name follows (see below).
          up[name] = r() < 0.3 ? [text(3) || 'v', text(3) || 'w'] : text(3) || 'v';
        }
        props.userProperties = up;
      }
      if (Object.keys(props).length > 0) p.properties = props;
    }
    return p;
  }

  it('reads 400 generated packets as mqtt-packet does, at both protocol levels', () => {
    const r = rng(20261206);
    for (let i = 0; i < 400; i++) {
      const version = i % 2 === 0 ? 5 : 4;
      const frame = mqttPacket.generate(randomPacket(r, version === 5), { protocolVersion: version });
      expect(plain(decodePublish(frame, bodyStart(frame), version === 5)), `packet ${i}`).toEqual(plain(reference(frame, version)));
    }
  });

  it('cut short or with bytes flipped, a packet is decoded or refused as a protocol violation, never anything else', () => {
    const r = rng(7);
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const frame = mqttPacket.generate(randomPacket(r, true), { protocolVersion: 5 });
      const start = bodyStart(frame);
      const broken = Buffer.from(frame.subarray(0, start + Math.floor(r() * (frame.length - start + 1))));
      for (let k = 0; k < 3 && broken.length > start; k++) broken[start + Math.floor(r() * (broken.length - start))] = Math.floor(r() * 256);
      try {
        decodePublish(broken, start, true);
      } catch (err) {
        expect(err, `packet ${i}`).toBeInstanceOf(MqttProtocolViolation);
        refused++;
      }
    }
    // The mutations must actually reach the checks.
    expect(refused).toBeGreaterThan(50);
  });
});

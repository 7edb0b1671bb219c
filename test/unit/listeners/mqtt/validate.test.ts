/**
 * The validation layer: well-formed packets from a reference encoder
 * (mqtt-packet) pass at both protocol levels, and any bytes either pass or
 * are refused as a protocol violation — never anything else.
 */
import { describe, expect, it } from 'vitest';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { validatePacket } from '../../../../src/listeners/mqtt/validate.js';
import { utf8Problem } from '../../../../src/listeners/mqtt/cursor.js';
import { MqttProtocolViolation } from '../../../../src/listeners/mqtt/violation.js';

function bodyStart(frame: Buffer): number {
  let i = 1;
  while (frame[i]! & 0x80) i++;
  return i + 1;
}

const up = { a: 'b', 'x-y': ['1', '2'] };

function wellFormed(v5: boolean): Packet[] {
  const p5 = <T extends object>(props: T): { properties?: T } => (v5 ? { properties: props } : {});
  return [
    {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: v5 ? 5 : 4,
      clientId: 'c-ü€',
      clean: true,
      keepalive: 30,
      username: 'user',
      password: Buffer.from([0, 1, 2]),
      will: {
        topic: 'w/€',
        payload: Buffer.from('bye'),
        qos: 1,
        retain: false,
        ...p5({ willDelayInterval: 5, contentType: 'text/plain', userProperties: up }),
      },
      ...p5({
        sessionExpiryInterval: 10,
        receiveMaximum: 5,
        maximumPacketSize: 1000,
        topicAliasMaximum: 3,
        requestProblemInformation: false,
        userProperties: up,
      }),
    },
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion: v5 ? 5 : 4, clientId: '', clean: true, keepalive: 0 },
    { cmd: 'puback', messageId: 7 },
    { cmd: 'pubrec', messageId: 8, ...(v5 && { reasonCode: 0x10 }) },
    { cmd: 'pubrel', messageId: 9, ...(v5 && { reasonCode: 0x92, properties: { reasonString: 'gone', userProperties: up } }) },
    { cmd: 'pubcomp', messageId: 10 },
    {
      cmd: 'subscribe',
      messageId: 11,
      subscriptions: [
        { topic: 'a/+/€', qos: 2, ...(v5 && { nl: true, rap: true, rh: 2 }) },
        { topic: '#', qos: 0 },
      ],
      ...p5({ subscriptionIdentifier: 300, userProperties: up }),
    },
    { cmd: 'unsubscribe', messageId: 12, unsubscriptions: ['a/+/€', '#'], ...p5({ userProperties: up }) },
    { cmd: 'pingreq' },
    { cmd: 'disconnect', ...(v5 && { reasonCode: 0x04, properties: { sessionExpiryInterval: 0, reasonString: 'bye', userProperties: up } }) },
  ] as Packet[];
}

describe('validatePacket', () => {
  it.each([4, 5] as const)('passes the reference encoder’s well-formed v%i packets', (version) => {
    for (const p of wellFormed(version === 5)) {
      const frame = mqttPacket.generate(p, { protocolVersion: version });
      const level = p.cmd === 'connect' ? 0 : version;
      expect(() => validatePacket(frame, bodyStart(frame), level), p.cmd).not.toThrow();
    }
  });

  it('refuses mangled packets only with a protocol violation', () => {
    let x = 12345;
    const rand = (): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return (x >>> 0) / 2 ** 32;
    };
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const version = i % 2 === 0 ? 5 : 4;
      const packets = wellFormed(version === 5);
      const p = packets[Math.floor(rand() * packets.length)]!;
      const good = mqttPacket.generate(p, { protocolVersion: version });
      const start = bodyStart(good);
      const body = Buffer.from(good.subarray(start, start + Math.floor(rand() * (good.length - start + 1))));
      for (let k = 0; k < 2 && body.length > 0; k++) body[Math.floor(rand() * body.length)] = Math.floor(rand() * 256);
      const frame = Buffer.concat([
        Buffer.from([good[0]!, (body.length & 0x7f) | (body.length > 127 ? 0x80 : 0)]),
        body.length > 127 ? Buffer.from([body.length >> 7]) : Buffer.alloc(0),
        body,
      ]);
      try {
        validatePacket(frame, bodyStart(frame), p.cmd === 'connect' ? 0 : version);
      } catch (err) {
        expect(err).toBeInstanceOf(MqttProtocolViolation);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(1000);
  });
});

describe('utf8Problem', () => {
  it.each([
    ['61 62', undefined],
    ['e2 82 ac', undefined],
    ['ef bf bd', undefined], // U+FFFD itself is a character
    ['f0 9f 98 80', undefined],
    ['61 00', 'nul'],
    ['e2 82 ac 00', 'nul'],
    ['ed a0 80', 'ill-formed'], // a lone surrogate
    ['c0 80', 'ill-formed'], // overlong U+0000
    ['f4 90 80 80', 'ill-formed'], // above U+10FFFF
    ['c3', 'ill-formed'],
  ])('%s → %s', (bytes, problem) => {
    const b = Buffer.from(bytes.replace(/ /g, ''), 'hex');
    expect(utf8Problem(b, 0, b.length)).toBe(problem);
  });
});

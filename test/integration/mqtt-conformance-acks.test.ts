/**
 * PUBACK, PUBREC, PUBREL and PUBCOMP from a client are validated before any
 * handler sees them (src/listeners/mqtt/validate.ts), byte by byte, per
 * normative statement; and only a PUBREC below 0x80 is answered with PUBREL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import type { MqttTestBed } from './mqtt-support.js';
import { RawClient, connectWith, expectRefused, expectServed, hex, startBroker } from './mqtt-conformance-support.js';

let bed: MqttTestBed;
beforeAll(async () => {
  bed = await startBroker();
});
afterAll(async () => {
  await bed.close();
});

const ACKS = [
  ['PUBACK', 0x40],
  ['PUBREC', 0x50],
  ['PUBREL', 0x62],
  ['PUBCOMP', 0x70],
] as const;

const byte = (b: number): string => b.toString(16).padStart(2, '0');

describe.each(ACKS)('%s', (_name, first) => {
  it.each([4, 5] as const)('v%i: remaining length 0 or 1 is malformed (0x81; 3.1.1 close) [MQTT-4.13.1-1] [MQTT-4.8.0-1]', async (v) => {
    for (const body of ['00', '01 00']) {
      const raw = await RawClient.connected(bed.port, v);
      raw.write(hex(`${byte(first)} ${body}`));
      await expectRefused(bed, raw, 0x81, v === 5 ? 'MQTT-4.13.1-1' : 'MQTT-4.8.0-1');
    }
  });

  it('v3.1.1: remaining length other than 2 closes the connection [MQTT-4.8.0-1]', async () => {
    const raw = await RawClient.connected(bed.port, 4);
    raw.write(hex(`${byte(first)} 03 00 01 00`));
    await expectRefused(bed, raw, 0x81, 'MQTT-4.8.0-1');
  });

  it.each([4, 5] as const)('v%i: packet identifier 0 is malformed [MQTT-2.2.1-3] [MQTT-2.3.1-1]', async (v) => {
    const raw = await RawClient.connected(bed.port, v);
    raw.write(hex(`${byte(first)} 02 00 00`));
    await expectRefused(bed, raw, 0x81, v === 5 ? 'MQTT-2.2.1-3' : 'MQTT-2.3.1-1');
  });

  it.each([4, 5] as const)('v%i: reserved fixed-header flags are malformed [MQTT-2.1.3-1] [MQTT-2.2.2-2]', async (v) => {
    const raw = await RawClient.connected(bed.port, v);
    // PUBREL must carry 0010 [MQTT-3.6.1-1], the others 0000.
    raw.write(hex(`${byte(first === 0x62 ? 0x60 : first | 0x02)} 02 00 01`));
    await expectRefused(bed, raw, 0x81, v === 5 ? 'MQTT-2.1.3-1' : 'MQTT-2.2.2-2');
  });

  it('v5: a property the packet does not carry is malformed (§2.2.2.2)', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    // Reason 0x00, properties: Content Type "a".
    raw.write(hex(`${byte(first)} 08 00 01 00 04 03 00 01 61`));
    await expectRefused(bed, raw, 0x81, 'MQTT-2.2.2.2');
  });

  it('v5: a Reason String given twice is a protocol error (§2.2.2.2)', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    raw.write(hex(`${byte(first)} 0c 00 01 00 08 1f 00 01 61 1f 00 01 62`));
    await expectRefused(bed, raw, 0x82, 'MQTT-2.2.2.2');
  });

  it('v5: a property without its value is malformed [MQTT-4.13.1-1]', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    raw.write(hex(`${byte(first)} 05 00 01 00 01 1f`));
    await expectRefused(bed, raw, 0x81, 'MQTT-4.13.1-1');
  });

  it('v5: bytes after the properties are malformed [MQTT-4.13.1-1]', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    raw.write(hex(`${byte(first)} 06 00 01 00 00 ff ff`));
    await expectRefused(bed, raw, 0x81, 'MQTT-4.13.1-1');
  });

  it('v5: a property length not in its shortest form is malformed [MQTT-1.5.5-1]', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    raw.write(hex(`${byte(first)} 05 00 01 00 80 00`));
    await expectRefused(bed, raw, 0x81, 'MQTT-1.5.5-1');
  });

  it('v5: a reason code not defined for the packet is malformed [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1] [MQTT-3.7.2-1]', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    // 0x92 belongs to PUBREL/PUBCOMP only; 0x10 to PUBACK/PUBREC only.
    raw.write(hex(`${byte(first)} 03 00 01 ${first === 0x40 || first === 0x50 ? '92' : '10'}`));
    await expectRefused(bed, raw, 0x81);
  });

  it('v5: well-formed forms (id; id + reason; id + reason + properties) are taken', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    const ok = first === 0x40 || first === 0x50 ? '10' : '00';
    for (const body of ['02 00 21', `03 00 22 ${ok}`, `04 00 23 ${ok} 00`, `0d 00 24 ${ok} 09 1f 00 01 61 26 00 00 00 00`]) {
      raw.write(hex(`${byte(first)} ${body}`));
    }
    // Nothing refused; PUBREC (below 0x80) and PUBREL for unknown ids get their 0x92 answers.
    raw.write(hex('c0 00'));
    await raw.next('pingresp');
    const answered = raw.packets.map((p) => p.cmd);
    expect(answered.every((c) => c === 'pubrel' || c === 'pubcomp')).toBe(true);
    expect(raw.packets.filter((p) => p.cmd === 'disconnect')).toEqual([]);
  });
});

describe('PUBREC answers [MQTT-4.3.3-4]', () => {
  it('v3.1.1: a truncated PUBREC (50 00) is refused, not answered with PUBREL 65535', async () => {
    const raw = await RawClient.connected(bed.port, 4);
    raw.write(hex('50 00'));
    await expectRefused(bed, raw, 0x81, 'MQTT-4.8.0-1');
    expect(raw.packets.filter((p) => p.cmd === 'pubrel')).toEqual([]);
  });

  it('v5: an error PUBREC for an unknown packet id gets no PUBREL', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    raw.write(hex('50 03 00 07 80'));
    await expectServed(raw);
  });

  it('v5: an error PUBREC ends an outbound QoS 2 delivery without PUBREL; a success PUBREC gets PUBREL', async () => {
    const sub = await connectWith(bed.port, 5);
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'acks/q2', qos: 2 }] });
    await sub.next('suback');
    const pub = await RawClient.connected(bed.port, 5);
    pub.send({ cmd: 'publish', topic: 'acks/q2', payload: Buffer.from('one'), qos: 2, messageId: 1, dup: false, retain: false });
    pub.send({ cmd: 'publish', topic: 'acks/q2', payload: Buffer.from('two'), qos: 2, messageId: 2, dup: false, retain: false });
    const first = (await sub.next('publish')) as IPublishPacket;
    const second = (await sub.next('publish')) as IPublishPacket;
    sub.write(hex(`50 03 ${first.messageId!.toString(16).padStart(4, '0')} 80`));
    await expectServed(sub);
    sub.write(hex(`50 02 ${second.messageId!.toString(16).padStart(4, '0')}`));
    const rel = await sub.next('pubrel');
    expect(rel.messageId).toBe(second.messageId);
    sub.destroy();
    pub.destroy();
  });
});

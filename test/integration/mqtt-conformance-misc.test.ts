/**
 * Smaller rules: PINGREQ has no body, a Response Topic has no wildcards,
 * Variable Byte Integers use their shortest form, PUBLISH strings are
 * well-formed, and a client whose Maximum Packet Size cannot take the
 * CONNACK is told (when it can be) and closed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IConnackPacket } from 'mqtt-packet';
import type { MqttTestBed } from './mqtt-support.js';
import { RawClient, expectRefused, expectServed, sends as sendsRaw, startBroker } from './mqtt-conformance-support.js';

let bed: MqttTestBed;
beforeAll(async () => {
  bed = await startBroker();
});
afterAll(async () => {
  await bed.close();
});

const sends = (v: 4 | 5, bytes: string): Promise<RawClient> => sendsRaw(bed, v, bytes);

describe.each([4, 5] as const)('v%i', (v) => {
  it('a PINGREQ with a body is malformed, not answered [MQTT-4.13.1-1] [MQTT-4.8.0-1]', async () => {
    const raw = await sends(v, 'c0 01 00');
    await expectRefused(bed, raw, 0x81, v === 5 ? 'MQTT-4.13.1-1' : 'MQTT-4.8.0-1');
    expect(raw.packets.filter((p) => p.cmd === 'pingresp')).toEqual([]);
  });

  it('a PINGREQ with reserved flags is malformed [MQTT-2.1.3-1] [MQTT-2.2.2-2]', async () => {
    const raw = await sends(v, 'c1 00');
    await expectRefused(bed, raw, 0x81, v === 5 ? 'MQTT-2.1.3-1' : 'MQTT-2.2.2-2');
  });

  it('a Remaining Length longer than its value needs is malformed [MQTT-1.5.5-1]', async () => {
    const raw = await sends(v, 'c0 80 00');
    await expectRefused(bed, raw, 0x81, 'MQTT-1.5.5-1');
  });

  it('a PUBLISH topic with U+0000 is malformed [MQTT-1.5.4-2] [MQTT-1.5.3-2]', async () => {
    const raw = await sends(v, `30 ${v === 5 ? '06' : '05'} 00 02 61 00 ${v === 5 ? '00' : ''} 78`);
    await expectRefused(bed, raw, 0x81, v === 5 ? 'MQTT-1.5.4-2' : 'MQTT-1.5.3-2');
  });

  it('the shortest forms are served', async () => {
    const raw = await sends(v, `30 ${v === 5 ? '05' : '04'} 00 01 61 ${v === 5 ? '00' : ''} 78`);
    await expectServed(raw);
    raw.destroy();
  });

  it('the packet type 0 is malformed', async () => {
    const raw = await sends(v, '00 00');
    await expectRefused(bed, raw, 0x81);
  });
});

describe('v5 PUBLISH properties', () => {
  it('a Response Topic with a wildcard is a protocol error [MQTT-3.3.2-14]', async () => {
    // Topic 'a', Response Topic 'r/+', payload 'x'.
    const raw = await sends(5, '30 0b 00 01 61 06 08 00 03 72 2f 2b 78');
    await expectRefused(bed, raw, 0x82, 'MQTT-3.3.2-14');
  });

  it('a property length not in its shortest form is malformed [MQTT-1.5.5-1]', async () => {
    const raw = await sends(5, '30 06 00 01 61 80 00 78');
    await expectRefused(bed, raw, 0x81, 'MQTT-1.5.5-1');
  });

  it('a User Property with ill-formed UTF-8 is malformed [MQTT-1.5.4-1]', async () => {
    const raw = await sends(5, '30 0d 00 01 61 08 26 00 01 6b 00 02 c3 28 78');
    await expectRefused(bed, raw, 0x81, 'MQTT-1.5.4-1');
  });

  it('a Content Type with U+0000 is malformed [MQTT-1.5.4-2]', async () => {
    const raw = await sends(5, '30 0a 00 01 61 05 03 00 02 61 00 78');
    await expectRefused(bed, raw, 0x81, 'MQTT-1.5.4-2');
  });

  it('a Payload Format Indicator other than 0 or 1 is a protocol error (§3.3.2.3.2)', async () => {
    const raw = await sends(5, '30 07 00 01 61 02 01 02 78');
    await expectRefused(bed, raw, 0x82, 'MQTT-3.3.2.3.2');
  });
});

describe('a client whose Maximum Packet Size cannot take the CONNACK [MQTT-3.1.2-25]', () => {
  it('gets a bare CONNACK 0x95 when that fits, and is closed', async () => {
    const raw = await RawClient.open(bed.port, 5);
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: 'tiny-max',
      clean: true,
      keepalive: 60,
      properties: { maximumPacketSize: 12 },
    });
    const ack = (await raw.next('connack')) as IConnackPacket;
    expect(ack.reasonCode).toBe(0x95);
    expect(ack.properties).toBeUndefined();
    await raw.waitClosed();
    expect(bed.gw.gateway.listener('mqtt')!.stats().connections).toBeLessThanOrEqual(1);
  });

  it('is closed without a packet when not even that fits', async () => {
    const raw = await RawClient.open(bed.port, 5);
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: 'tinier-max',
      clean: true,
      keepalive: 60,
      properties: { maximumPacketSize: 4 },
    });
    await raw.waitClosed();
    expect(raw.packets).toEqual([]);
  });
});

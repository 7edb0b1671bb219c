/**
 * SUBSCRIBE and UNSUBSCRIBE are validated before their handlers
 * (src/listeners/mqtt/validate.ts): packet identifier, properties, at least
 * one filter, UTF-8 filters, subscription options; invalid filters get their
 * per-filter code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ISubackPacket, IUnsubackPacket } from 'mqtt-packet';
import type { MqttTestBed } from './mqtt-support.js';
import { type RawClient, expectRefused, sends as sendsRaw, startBroker } from './mqtt-conformance-support.js';

let bed: MqttTestBed;
beforeAll(async () => {
  bed = await startBroker();
});
afterAll(async () => {
  await bed.close();
});

const sends = (v: 4 | 5, bytes: string): Promise<RawClient> => sendsRaw(bed, v, bytes);

describe.each([4, 5] as const)('v%i SUBSCRIBE', (v) => {
  // Property length byte for v5 only.
  const props = v === 5 ? '00' : '';
  const len = (n: number): string => (n + (v === 5 ? 1 : 0)).toString(16).padStart(2, '0');

  it('without a topic filter is a protocol error (0x82; 3.1.1 close) [MQTT-3.8.3-2] [MQTT-3.8.3-3]', async () => {
    const raw = await sends(v, `82 ${len(2)} 00 01 ${props}`);
    await expectRefused(bed, raw, 0x82, v === 5 ? 'MQTT-3.8.3-2' : 'MQTT-3.8.3-3');
  });

  it('with packet identifier 0 is malformed [MQTT-2.2.1-3] [MQTT-2.3.1-1]', async () => {
    const raw = await sends(v, `82 ${len(6)} 00 00 ${props} 00 01 61 00`);
    await expectRefused(bed, raw, 0x81, v === 5 ? 'MQTT-2.2.1-3' : 'MQTT-2.3.1-1');
  });

  it('with an ill-formed UTF-8 filter is malformed, not granted [MQTT-1.5.4-1] [MQTT-1.5.3-1]', async () => {
    const raw = await sends(v, `82 ${len(8)} 00 01 ${props} 00 03 61 ed a0 80 01`);
    await expectRefused(bed, raw, 0x81, v === 5 ? 'MQTT-1.5.4-1' : 'MQTT-1.5.3-1');
  });

  it('with a filter containing U+0000 is malformed [MQTT-1.5.4-2] [MQTT-1.5.3-2]', async () => {
    const raw = await sends(v, `82 ${len(7)} 00 01 ${props} 00 02 61 00 01`);
    await expectRefused(bed, raw, 0x81, v === 5 ? 'MQTT-1.5.4-2' : 'MQTT-1.5.3-2');
  });

  it('with QoS 3 requested is malformed [MQTT-3-8.3-4] (v5 §3.8.3.1)', async () => {
    const raw = await sends(v, `82 ${len(6)} 00 01 ${props} 00 01 61 03`);
    await expectRefused(bed, raw, 0x81);
  });

  it('with reserved option bits set is malformed [MQTT-3.8.3-5] [MQTT-3-8.3-4]', async () => {
    const raw = await sends(v, `82 ${len(6)} 00 01 ${props} 00 01 61 c1`);
    await expectRefused(bed, raw, 0x81, v === 5 ? 'MQTT-3.8.3-5' : 'MQTT-3-8.3-4');
  });

  it('with a zero-length filter gets the failure code for it, beside a granted one [MQTT-4.7.3-1]', async () => {
    const raw = await sends(v, `82 ${len(9)} 00 05 ${props} 00 00 01 00 01 61 01`);
    const ack = (await raw.next('suback')) as ISubackPacket;
    expect(ack.granted).toEqual([v === 5 ? 0x8f : 0x80, 1]);
    raw.destroy();
  });
});

describe('v5 SUBSCRIBE properties', () => {
  it('the Subscription Identifier twice is a protocol error (§3.8.2.1.2)', async () => {
    const raw = await sends(5, '82 0b 00 01 04 0b 01 0b 02 00 01 61 00');
    await expectRefused(bed, raw, 0x82, 'MQTT-2.2.2.2');
  });

  it('a property SUBSCRIBE does not carry is malformed (Reason String)', async () => {
    const raw = await sends(5, '82 0c 00 01 05 1f 00 02 61 62 00 01 61 00');
    await expectRefused(bed, raw, 0x81, 'MQTT-2.2.2.2');
  });

  it('Subscription Identifier 0 is a protocol error (§3.8.2.1.2)', async () => {
    const raw = await sends(5, '82 09 00 01 02 0b 00 00 01 61 00');
    await expectRefused(bed, raw, 0x82, 'MQTT-3.8.2.1.2');
  });

  it('a non-minimal Subscription Identifier is malformed [MQTT-1.5.5-1]', async () => {
    const raw = await sends(5, '82 0a 00 01 03 0b 81 00 00 01 61 00');
    await expectRefused(bed, raw, 0x81, 'MQTT-1.5.5-1');
  });

  it('Retain Handling 3 is a protocol error (§3.8.3.1)', async () => {
    const raw = await sends(5, '82 07 00 01 00 00 01 61 30');
    await expectRefused(bed, raw, 0x82, 'MQTT-3.8.3.1');
  });

  it('No Local on a shared subscription is a protocol error [MQTT-3.8.3-4]', async () => {
    const raw = await sends(5, `82 0f 00 01 00 00 09 ${Buffer.from('$share/g/').toString('hex')} 04`);
    await expectRefused(bed, raw, 0x82, 'MQTT-3.8.3-4');
  });
});

describe.each([4, 5] as const)('v%i UNSUBSCRIBE', (v) => {
  const props = v === 5 ? '00' : '';
  const len = (n: number): string => (n + (v === 5 ? 1 : 0)).toString(16).padStart(2, '0');

  it('without a topic filter is a protocol error [MQTT-3.10.3-2]', async () => {
    const raw = await sends(v, `a2 ${len(2)} 00 01 ${props}`);
    await expectRefused(bed, raw, 0x82, 'MQTT-3.10.3-2');
  });

  it('with reserved flags other than 0010 is malformed [MQTT-3.10.1-1]', async () => {
    const raw = await sends(v, `a0 ${len(5)} 00 01 ${props} 00 01 61`);
    await expectRefused(bed, raw, 0x81, v === 5 ? 'MQTT-2.1.3-1' : 'MQTT-2.2.2-2');
  });

  it('with an ill-formed UTF-8 filter is malformed [MQTT-1.5.4-1] [MQTT-1.5.3-1]', async () => {
    const raw = await sends(v, `a2 ${len(6)} 00 01 ${props} 00 02 c3 28`);
    await expectRefused(bed, raw, 0x81, v === 5 ? 'MQTT-1.5.4-1' : 'MQTT-1.5.3-1');
  });

  it('with a zero-length filter: v5 0x8F for it, 3.1.1 closed [MQTT-4.7.3-1]', async () => {
    const raw = await sends(v, `a2 ${len(7)} 00 01 ${props} 00 00 00 01 61`);
    if (v === 4) {
      await expectRefused(bed, raw, 0x8f, 'MQTT-4.7.3-1');
      return;
    }
    const ack = (await raw.next('unsuback')) as IUnsubackPacket;
    expect(ack.granted).toEqual([0x8f, 0x11]);
    raw.destroy();
  });
});

describe('v5 UNSUBSCRIBE properties', () => {
  it('a property other than User Property is malformed (Subscription Identifier)', async () => {
    const raw = await sends(5, 'a2 08 00 01 02 0b 01 00 01 61');
    await expectRefused(bed, raw, 0x81, 'MQTT-2.2.2.2');
  });
});

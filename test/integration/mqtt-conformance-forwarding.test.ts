/**
 * What a v5 subscriber must receive unchanged from the publisher's PUBLISH
 * (MQTT 5.0 §3.3.2.3): the Payload Format Indicator [MQTT-3.3.2-4], the
 * Content Type [MQTT-3.3.2-20], the Response Topic [MQTT-3.3.2-15], the
 * Correlation Data [MQTT-3.3.2-16], and the Message Expiry Interval less
 * the time waited [MQTT-3.3.2-6]. The publisher's PUBLISH is written as bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import type { MqttTestBed } from './mqtt-support.js';
import { RawClient, connectWith, hex, startBroker } from './mqtt-conformance-support.js';

let bed: MqttTestBed;
beforeAll(async () => {
  bed = await startBroker();
});
afterAll(async () => {
  await bed.close();
});

const str = (s: string): Buffer => Buffer.concat([Buffer.from([0, Buffer.byteLength(s)]), Buffer.from(s)]);

/** A QoS 0 v5 PUBLISH from its topic, property bytes and payload. */
function publish(topic: string, props: Buffer, payload: string): Buffer {
  const body = Buffer.concat([str(topic), Buffer.from([props.length]), props, Buffer.from(payload)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

describe('delivery to a v5 subscriber', () => {
  it('forwards the Payload Format Indicator and the other properties unaltered [MQTT-3.3.2-4]', async () => {
    const sub = await connectWith(bed.port, 5);
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'pf/#', qos: 0 }] });
    await sub.next('suback');
    const pub = await RawClient.connected(bed.port, 5);
    const props = Buffer.concat([
      hex('01 01'), // Payload Format Indicator 1
      Buffer.from([0x03]),
      str('text/plain'),
      Buffer.from([0x08]),
      str('pf/reply'),
      hex('09 00 02 ab cd'),
      hex('02 00 00 00 3c'), // Message Expiry Interval 60
    ]);
    pub.write(publish('pf/a', props, 'héllo'));
    const got = (await sub.next('publish')) as IPublishPacket;
    expect(got.payload.toString()).toBe('héllo');
    expect(got.properties?.payloadFormatIndicator).toBe(true);
    expect(got.properties?.contentType).toBe('text/plain');
    expect(got.properties?.responseTopic).toBe('pf/reply');
    expect(Buffer.from(got.properties!.correlationData!).toString('hex')).toBe('abcd');
    expect(got.properties?.messageExpiryInterval).toBeGreaterThan(55);
    expect(got.properties?.messageExpiryInterval).toBeLessThanOrEqual(60);

    // Without the indicator (or with 0) none is sent.
    pub.write(publish('pf/b', hex('01 00'), 'bytes'));
    const plain = (await sub.next('publish')) as IPublishPacket;
    expect(plain.topic).toBe('pf/b');
    expect(plain.properties?.payloadFormatIndicator).toBeUndefined();
    pub.destroy();
    sub.destroy();
  });
});

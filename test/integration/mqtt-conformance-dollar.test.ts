/**
 * Topics beginning with '$' are not matched by '#' or '+' at the first
 * level [MQTT-4.7.2-1], neither by routes nor by device subscriptions; a
 * route or a subscription naming them explicitly matches them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IPubackPacket, IPublishPacket } from 'mqtt-packet';
import { startBed, type MqttTestBed } from './mqtt-support.js';
import { RawClient, connectWith, hex } from './mqtt-conformance-support.js';

let bed: MqttTestBed;
beforeAll(async () => {
  bed = await startBed({
    routes: [
      { match: { address: '$dev/#' }, target: 'devices' },
      { match: { address: '#' }, target: 'devices' },
    ],
  });
});
afterAll(async () => {
  await bed.close();
});

async function subscriber(filter: string): Promise<RawClient> {
  const raw = await connectWith(bed.port, 5);
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] });
  await raw.next('suback');
  return raw;
}

/** QoS 1 PUBLISH of 'x' to `topic` (written as bytes); resolves with the PUBACK's reason code. */
async function publish(pub: RawClient, topic: string, id: number): Promise<number> {
  const t = Buffer.from(topic);
  const body = Buffer.concat([Buffer.from([0, t.length]), t, Buffer.from([0, id, 0]), Buffer.from('x')]);
  pub.write(Buffer.concat([Buffer.from([0x32, body.length]), body]));
  return ((await pub.next('puback')) as IPubackPacket).reasonCode ?? 0;
}

describe('$ topics [MQTT-4.7.2-1]', () => {
  it("are matched by neither '#' nor '+' subscriptions, only by explicit ones", async () => {
    const all = await subscriber('#');
    const plus = await subscriber('+/x');
    const dollar = await subscriber('$dev/#');
    const dollarPlus = await subscriber('$dev/+');
    const pub = await RawClient.connected(bed.port, 5);
    expect(await publish(pub, '$dev/x', 1)).toBe(0);
    expect(((await dollar.next('publish')) as IPublishPacket).topic).toBe('$dev/x');
    expect(((await dollarPlus.next('publish')) as IPublishPacket).topic).toBe('$dev/x');
    // A plain topic afterwards reaches '#' and '+/x' first: the '$' one never came.
    expect(await publish(pub, 'plain/x', 2)).toBe(0);
    expect(((await all.next('publish')) as IPublishPacket).topic).toBe('plain/x');
    expect(((await plus.next('publish')) as IPublishPacket).topic).toBe('plain/x');
    for (const c of [all, plus, dollar, dollarPlus, pub]) c.destroy();
  });

  it("are not matched by a '#' route: no route, PUBACK 0x90", async () => {
    const pub = await RawClient.connected(bed.port, 5);
    expect(await publish(pub, '$other/x', 3)).toBe(0x90);
    pub.write(hex('e0 00'));
    await pub.waitClosed();
  });
});

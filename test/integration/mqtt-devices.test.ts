/**
 * Device-to-device delivery through a `target: devices` route, like a
 * broker: QoS downgrade to the granted QoS, filter validation, No Local,
 * Subscription Identifiers, the client's Receive Maximum, and
 * Listener.deliver() to one client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IPublishPacket, ISubackPacket, IUnsubackPacket } from 'mqtt-packet';
import { RawClient, client, startBed, type MqttTestBed } from './mqtt-support.js';

let bed: MqttTestBed;
beforeAll(async () => {
  bed = await startBed({
    routes: [
      { match: { address: 'devices/#' }, target: 'devices' },
      { match: { address: '#' }, pool: 'default' },
    ],
  });
});
afterAll(async () => {
  await bed.close();
});

function nextMessage(c: Awaited<ReturnType<typeof client>>): Promise<IPublishPacket> {
  return new Promise((resolve) => c.once('message', (_t, _p, packet) => resolve(packet)));
}

describe.each([4, 5] as const)('v%i subscriber', (protocolVersion) => {
  it.each([0, 1, 2] as const)('receives a QoS %i publish at the granted QoS', async (qos) => {
    const sub = await client(bed.port, { protocolVersion, clientId: `sub-${protocolVersion}-${qos}` });
    const pub = await client(bed.port, { protocolVersion: 5, clientId: `pub-${protocolVersion}-${qos}` });
    try {
      const granted = await sub.subscribeAsync(`devices/+/q${qos}`, { qos: 2 });
      expect(granted[0]!.qos).toBe(2);
      const got = nextMessage(sub);
      await pub.publishAsync(`devices/d1/q${qos}`, `to-sub-${qos}`, { qos });
      const msg = await got;
      expect(msg.topic).toBe(`devices/d1/q${qos}`);
      expect(msg.payload.toString()).toBe(`to-sub-${qos}`);
      expect(msg.qos).toBe(qos);
    } finally {
      await sub.endAsync();
      await pub.endAsync();
    }
  });
});

it('downgrades to the subscription QoS', async () => {
  const sub = await client(bed.port, { protocolVersion: 5 });
  const pub = await client(bed.port, { protocolVersion: 5 });
  try {
    await sub.subscribeAsync('devices/down', { qos: 0 });
    const got = nextMessage(sub);
    await pub.publishAsync('devices/down', 'x', { qos: 2 });
    expect((await got).qos).toBe(0);
  } finally {
    await sub.endAsync();
    await pub.endAsync();
  }
});

it('refuses invalid filters with 0x8F (v5) and 0x80 (v3.1.1)', async () => {
  const v5 = await RawClient.connected(bed.port, 5);
  v5.send({
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [
      { topic: 'a/#/b', qos: 1 },
      { topic: 'ok/+', qos: 1 },
      { topic: 'x+/y', qos: 0 },
    ],
  });
  expect(((await v5.next('suback')) as ISubackPacket).granted).toEqual([0x8f, 1, 0x8f]);
  v5.destroy();
  const v3 = await RawClient.connected(bed.port, 4);
  v3.send({
    cmd: 'subscribe',
    messageId: 1,
    subscriptions: [
      { topic: 'a/#/b', qos: 1 },
      { topic: 'ok/+', qos: 1 },
    ],
  });
  expect(((await v3.next('suback')) as ISubackPacket).granted).toEqual([0x80, 1]);
  v3.destroy();
});

it('honours No Local and sends Subscription Identifiers', async () => {
  const c = await RawClient.connected(bed.port, 5, 'self');
  const other = await client(bed.port, { protocolVersion: 5 });
  try {
    c.send({ cmd: 'subscribe', messageId: 1, properties: { subscriptionIdentifier: 42 }, subscriptions: [{ topic: 'devices/self/#', qos: 1, nl: true }] });
    await c.next('suback');
    c.send({ cmd: 'publish', topic: 'devices/self/own', payload: Buffer.from('mine'), qos: 1, messageId: 9, dup: false, retain: false });
    await c.next('puback');
    await other.publishAsync('devices/self/theirs', 'theirs', { qos: 1 });
    const msg = (await c.next('publish')) as IPublishPacket;
    expect(msg.topic).toBe('devices/self/theirs'); // the own publish was not echoed
    expect(msg.properties?.subscriptionIdentifier).toBe(42);
    c.send({ cmd: 'puback', messageId: msg.messageId! });
    c.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['devices/self/#', 'never/subscribed'] });
    expect(((await c.next('unsuback')) as IUnsubackPacket).granted).toEqual([0x00, 0x11]);
  } finally {
    c.destroy();
    await other.endAsync();
  }
});

it("keeps at most the client's Receive Maximum unacknowledged and queues the rest", async () => {
  const c = await RawClient.open(bed.port, 5);
  const pub = await client(bed.port, { protocolVersion: 5 });
  try {
    c.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'slow-reader', clean: true, keepalive: 60, properties: { receiveMaximum: 1 } });
    await c.next('connack');
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'devices/rm/+', qos: 1 }] });
    await c.next('suback');
    await pub.publishAsync('devices/rm/1', '1', { qos: 1 });
    await pub.publishAsync('devices/rm/2', '2', { qos: 1 });
    const first = (await c.next('publish')) as IPublishPacket;
    expect(first.topic).toBe('devices/rm/1');
    await expect(c.next('publish', 300)).rejects.toThrow(/no publish/);
    c.send({ cmd: 'puback', messageId: first.messageId! });
    const second = (await c.next('publish')) as IPublishPacket;
    expect(second.topic).toBe('devices/rm/2');
    expect(second.messageId).not.toBe(first.messageId);
  } finally {
    c.destroy();
    await pub.endAsync();
  }
});

it("does not send a message larger than the client's Maximum Packet Size", async () => {
  const c = await RawClient.open(bed.port, 5);
  const pub = await client(bed.port, { protocolVersion: 5 });
  try {
    c.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: 'small-packets',
      clean: true,
      keepalive: 60,
      properties: { maximumPacketSize: 64 },
    });
    await c.next('connack');
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'devices/mps/+', qos: 0 }] });
    await c.next('suback');
    await pub.publishAsync('devices/mps/big', Buffer.alloc(200, 0x61), { qos: 1 });
    await pub.publishAsync('devices/mps/small', 'ok', { qos: 1 });
    const msg = (await c.next('publish')) as IPublishPacket;
    expect(msg.topic).toBe('devices/mps/small');
  } finally {
    c.destroy();
    await pub.endAsync();
  }
});

it('completes an outbound QoS 2 exchange', async () => {
  const c = await RawClient.connected(bed.port, 5, 'q2-reader');
  const pub = await client(bed.port, { protocolVersion: 5 });
  try {
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'devices/q2', qos: 2 }] });
    await c.next('suback');
    await pub.publishAsync('devices/q2', 'exactly', { qos: 2 });
    const msg = (await c.next('publish')) as IPublishPacket;
    expect(msg.qos).toBe(2);
    c.send({ cmd: 'pubrec', messageId: msg.messageId! });
    const rel = await c.next('pubrel');
    expect(rel.messageId).toBe(msg.messageId);
    c.send({ cmd: 'pubcomp', messageId: msg.messageId! });
  } finally {
    c.destroy();
    await pub.endAsync();
  }
});

it('Listener.deliver() reaches one connected client by id', async () => {
  const c = await client(bed.port, { protocolVersion: 5, clientId: 'direct' });
  try {
    const got = nextMessage(c);
    const listener = bed.gw.gateway.listener('mqtt')!;
    expect(listener.deliver('direct', { topic: 'commands/direct', payload: Buffer.from('reboot'), qos: 1, retain: false })).toBe(true);
    expect(listener.deliver('absent', { topic: 'x', payload: Buffer.alloc(0), qos: 0, retain: false })).toBe(false);
    const msg = await got;
    expect(msg.topic).toBe('commands/direct');
    expect(msg.payload.toString()).toBe('reboot');
  } finally {
    await c.endAsync();
  }
});

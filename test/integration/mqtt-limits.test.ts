/**
 * MQTT 5 limits: Receive Maximum (0x93), Maximum Packet Size (0x95), topic
 * aliases (0x94 / 0x82), retained messages (0x9A), exactly-once for a
 * re-sent QoS 2 PUBLISH, and draining on stop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IDisconnectPacket, IPubrecPacket } from 'mqtt-packet';
import { RawClient, client, startBed, type MqttTestBed } from './mqtt-support.js';

let bed: MqttTestBed;
beforeAll(async () => {
  bed = await startBed({ limits: { maxInflight: 2, maxPacketBytes: 1024 }, mqtt: { topicAliasMaximum: 4, retainAvailable: false } });
});
afterAll(async () => {
  await bed.close();
});

function publish(raw: RawClient, messageId: number, qos: 0 | 1 | 2, extra: Record<string, unknown> = {}): void {
  raw.send({ cmd: 'publish', topic: 'limits/t', payload: Buffer.from('p'), qos, messageId, dup: false, retain: false, ...extra });
}

async function expectDisconnect(raw: RawClient, code: number): Promise<void> {
  const d = (await raw.next('disconnect')) as IDisconnectPacket;
  expect(d.reasonCode).toBe(code);
  await raw.waitClosed();
}

describe('Receive Maximum [MQTT-3.3.4-9]', () => {
  it('disconnects a client with more unacknowledged QoS 1 messages than announced with 0x93', async () => {
    bed.backend.responder = () => ({ status: 200, delayMs: 300 });
    const raw = await RawClient.connected(bed.port, 5);
    try {
      publish(raw, 1, 1);
      publish(raw, 2, 1);
      publish(raw, 3, 1);
      await expectDisconnect(raw, 0x93);
    } finally {
      bed.backend.responder = () => ({ status: 200 });
      raw.destroy();
    }
  });
});

describe('Maximum Packet Size', () => {
  it('disconnects with 0x95 for a packet above limits.maxPacketBytes', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    raw.send({ cmd: 'publish', topic: 'limits/big', payload: Buffer.alloc(2000, 1), qos: 0, dup: false, retain: false });
    await expectDisconnect(raw, 0x95);
  });

  it('refuses from the header alone a remaining length of 256 MB', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    raw.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])); // PUBLISH announcing 268435455 bytes, none sent
    await expectDisconnect(raw, 0x95);
  });
});

describe('topic aliases', () => {
  it('resolves an alias set earlier', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    try {
      const before = bed.backend.requests.length;
      raw.send({
        cmd: 'publish',
        topic: 'alias/long/topic',
        payload: Buffer.from('1'),
        qos: 1,
        messageId: 1,
        dup: false,
        retain: false,
        properties: { topicAlias: 3 },
      });
      await raw.next('puback');
      raw.send({ cmd: 'publish', topic: '', payload: Buffer.from('2'), qos: 1, messageId: 2, dup: false, retain: false, properties: { topicAlias: 3 } });
      await raw.next('puback');
      expect(bed.backend.requests.slice(before).map((r) => r.url)).toEqual(['/messages/alias/long/topic', '/messages/alias/long/topic']);
    } finally {
      raw.destroy();
    }
  });

  it.each([
    ['above the maximum', 5, 'a/b', 0x94],
    ['unknown with an empty topic', 2, '', 0x82],
  ])('disconnects for an alias %s', async (_what, alias, topic, code) => {
    const raw = await RawClient.connected(bed.port, 5);
    raw.send({ cmd: 'publish', topic, payload: Buffer.from('x'), qos: 0, dup: false, retain: false, properties: { topicAlias: alias } });
    await expectDisconnect(raw, code);
  });

  it('disconnects for alias 0 with 0x94', async () => {
    const raw = await RawClient.connected(bed.port, 5);
    // PUBLISH QoS 0, topic "a", properties: Topic Alias (0x23) = 0 — encoders refuse to build it.
    raw.write(Buffer.from([0x30, 0x08, 0x00, 0x01, 0x61, 0x03, 0x23, 0x00, 0x00, 0x78]));
    await expectDisconnect(raw, 0x94);
  });
});

it('with mqtt.retainAvailable false, disconnects a v5 client publishing a retained message with 0x9A', async () => {
  const raw = await RawClient.connected(bed.port, 5);
  raw.send({ cmd: 'publish', topic: 'retain/me', payload: Buffer.from('x'), qos: 0, dup: false, retain: true });
  await expectDisconnect(raw, 0x9a);
});

it('with mqtt.retainAvailable false, treats a v3.1.1 retained publish as a plain publish', async () => {
  const c = await client(bed.port, { protocolVersion: 4 });
  try {
    const before = bed.backend.requests.length;
    await c.publishAsync('retain/v3', 'kept?', { qos: 1, retain: true });
    await bed.backend.waitFor(before + 1);
    expect(bed.backend.requests.at(-1)!.url).toBe('/messages/retain/v3');
  } finally {
    await c.endAsync();
  }
});

describe('exactly-once toward the back-end', () => {
  it('does not dispatch a re-sent QoS 2 PUBLISH twice', async () => {
    bed.backend.responder = () => ({ status: 200, delayMs: 200 });
    const raw = await RawClient.connected(bed.port, 5);
    try {
      const before = bed.backend.requests.length;
      const packet = { cmd: 'publish' as const, topic: 'once/only', payload: Buffer.from('one'), qos: 2 as const, messageId: 11, retain: false };
      raw.send({ ...packet, dup: false });
      raw.send({ ...packet, dup: true }); // while the first is still being dispatched
      const rec = (await raw.next('pubrec')) as IPubrecPacket;
      expect(rec.messageId).toBe(11);
      raw.send({ ...packet, dup: true }); // after PUBREC: answered with PUBREC again
      expect(((await raw.next('pubrec')) as IPubrecPacket).messageId).toBe(11);
      raw.send({ cmd: 'pubrel', messageId: 11 });
      expect((await raw.next('pubcomp')).messageId).toBe(11);
      expect(bed.backend.requests.length - before).toBe(1);
    } finally {
      bed.backend.responder = () => ({ status: 200 });
      raw.destroy();
    }
  });
});

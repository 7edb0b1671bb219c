/**
 * Connection lifecycle: CONNECT/CONNACK negotiation, the first-CONNECT
 * deadline, keepalive enforcement, session takeover and Will messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IConnackPacket, IDisconnectPacket } from 'mqtt-packet';
import mqtt from 'mqtt';
import { RawClient, client, nextEvent, startBed, type MqttTestBed } from './mqtt-support.js';

let bed: MqttTestBed;
beforeAll(async () => {
  // Long enough that a loaded host (the full suite on 2 cores) admits a prompt CONNECT within it.
  bed = await startBed({ limits: { connectTimeoutMs: 1500 }, mqtt: { maxKeepAliveSeconds: 30 } });
});
afterAll(async () => {
  await bed.close();
});

describe('CONNECT', () => {
  it('announces the v5 limits in CONNACK; a new session is not present', async () => {
    const raw = await RawClient.open(bed.port, 5);
    try {
      raw.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clientId: 'limits',
        clean: false,
        keepalive: 0,
        properties: { sessionExpiryInterval: 3600 },
      });
      const ack = (await raw.next('connack')) as IConnackPacket;
      expect(ack.reasonCode).toBe(0);
      expect(ack.sessionPresent).toBe(false);
      expect(ack.properties).toMatchObject({
        receiveMaximum: 64,
        maximumPacketSize: 262144,
        topicAliasMaximum: 64,
        retainAvailable: true,
        serverKeepAlive: 30, // keepalive 0 asked, capped by mqtt.maxKeepAliveSeconds
      });
      expect(ack.properties?.sessionExpiryInterval).toBeUndefined(); // 3600 is granted as asked
    } finally {
      raw.destroy();
    }
  });

  it('assigns a client identifier to an empty one (v5 and v3.1.1 with clean session)', async () => {
    const v5 = await RawClient.open(bed.port, 5);
    v5.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: '', clean: true, keepalive: 60 });
    const ack5 = (await v5.next('connack')) as IConnackPacket;
    expect(ack5.reasonCode).toBe(0);
    expect(ack5.properties?.assignedClientIdentifier).toMatch(/^tg-/);
    v5.destroy();
    const v3 = await RawClient.open(bed.port, 4);
    v3.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: '', clean: true, keepalive: 60 });
    expect(((await v3.next('connack')) as IConnackPacket).returnCode).toBe(0);
    v3.destroy();
  });

  it('refuses an empty v3.1.1 client identifier without clean session with 0x02 [MQTT-3.1.3-8]', async () => {
    const raw = await RawClient.open(bed.port, 4);
    // Hand-built: encoders refuse an empty id without clean session. Flags 0x00, keepalive 60.
    raw.write(Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x3c, 0x00, 0x00]));
    expect(((await raw.next('connack')) as IConnackPacket).returnCode).toBe(0x02);
    await raw.waitClosed();
  });

  it('refuses protocol level 3 (MQTT 3.1) with return code 0x01', async () => {
    const raw = await RawClient.open(bed.port, 4);
    raw.send({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'old', clean: true, keepalive: 60 });
    expect(((await raw.next('connack')) as IConnackPacket).returnCode).toBe(0x01);
    await raw.waitClosed();
  });
});

it('refuses an unknown protocol level with return code 0x01 [MQTT-3.1.2-2]', async () => {
  const raw = await RawClient.open(bed.port, 4);
  // CONNECT, protocol name MQTT, level 6, clean session, keepalive 60, client id "x".
  raw.write(Buffer.from([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x3c, 0x00, 0x01, 0x78]));
  expect(((await raw.next('connack')) as IConnackPacket).returnCode).toBe(0x01);
  await raw.waitClosed();
});

describe('first-CONNECT deadline', () => {
  it('closes a socket that sends nothing', async () => {
    const raw = await RawClient.open(bed.port, 5);
    const t0 = Date.now();
    await raw.waitClosed(6000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1450);
  });

  it('closes a socket that sends half a CONNECT', async () => {
    const raw = await RawClient.open(bed.port, 5);
    raw.write(Buffer.from([0x10, 0x20, 0x00, 0x04, 0x4d, 0x51])); // CONNECT claiming 32 bytes, 4 sent
    const t0 = Date.now();
    await raw.waitClosed(6000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1450);
    expect(bed.gw.logs.some((l) => l.event === 'security' && l.kind === 'slow-client' && String(l.detail).includes('partial'))).toBe(true);
  });
});

describe('keepalive [MQTT-3.1.2-24]', () => {
  it('disconnects a v5 client silent for 1.5 × its keepalive with 0x8D', async () => {
    const raw = await RawClient.open(bed.port, 5);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'sleepy', clean: true, keepalive: 1 });
    await raw.next('connack');
    const t0 = Date.now();
    const d = (await raw.next('disconnect', 5000)) as IDisconnectPacket;
    expect(d.reasonCode).toBe(0x8d);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    await raw.waitClosed();
  });

  it('keeps a client that pings', async () => {
    const raw = await RawClient.open(bed.port, 4);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'pinger', clean: true, keepalive: 1 });
    await raw.next('connack');
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 500)); // the client's own keepalive cadence
      raw.send({ cmd: 'pingreq' });
      await raw.next('pingresp');
    }
    expect(raw.socket.destroyed).toBe(false);
    raw.destroy();
  });
});

describe('session takeover [MQTT-3.1.4-3]', () => {
  it('closes the first connection with 0x8E when the same client id connects again', async () => {
    const first = await client(bed.port, { protocolVersion: 5, clientId: 'twin' });
    const disconnected = nextEvent<IDisconnectPacket>(first, 'disconnect');
    const second = await client(bed.port, { protocolVersion: 5, clientId: 'twin' });
    try {
      expect((await disconnected).reasonCode).toBe(0x8e);
      await second.publishAsync('after/takeover', 'x', { qos: 1 });
      expect(second.connected).toBe(true);
    } finally {
      await second.endAsync();
      await first.endAsync(true);
    }
  });

  it('takes over across listeners: TCP first, WebSocket second', async () => {
    const first = await client(bed.port, { protocolVersion: 5, clientId: 'roamer' });
    const disconnected = nextEvent<IDisconnectPacket>(first, 'disconnect');
    const second = await mqtt.connectAsync(`ws://127.0.0.1:${bed.wsPort}/mqtt`, { protocolVersion: 5, clientId: 'roamer', reconnectPeriod: 0 });
    try {
      expect((await disconnected).reasonCode).toBe(0x8e);
      expect(bed.gw.gateway.listener('mqtt-ws')!.deliver('roamer', { topic: 'x/y', payload: Buffer.from('1'), qos: 0, retain: false })).toBe(true);
      expect(bed.gw.gateway.listener('mqtt')!.deliver('roamer', { topic: 'x/y', payload: Buffer.from('1'), qos: 0, retain: false })).toBe(false);
    } finally {
      await second.endAsync();
      await first.endAsync(true);
    }
  });

  it('closes a v3.1.1 first connection', async () => {
    const first = await RawClient.connected(bed.port, 4, 'twin3');
    const second = await RawClient.connected(bed.port, 4, 'twin3');
    await first.waitClosed();
    second.destroy();
  });
});

describe('Will messages', () => {
  it('routes the will to the back-end after an abnormal close', async () => {
    const raw = await RawClient.open(bed.port, 5);
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: 'will-1',
      clean: true,
      keepalive: 60,
      will: { topic: 'wills/will-1', payload: Buffer.from('gone'), qos: 1, retain: false, properties: { contentType: 'text/plain' } },
    });
    await raw.next('connack');
    const before = bed.backend.requests.length;
    raw.destroy();
    await bed.backend.waitFor(before + 1);
    const req = bed.backend.requests.at(-1)!;
    expect(req.url).toBe('/messages/wills/will-1');
    expect(req.body.toString()).toBe('gone');
    expect(req.headers['content-type']).toBe('text/plain');
    expect(req.headers['x-thinggate-client-id']).toBe('will-1');
  });

  it('sends the will on DISCONNECT 0x04 and discards it on DISCONNECT 0x00', async () => {
    const will = { topic: 'wills/w2', payload: Buffer.from('w2'), qos: 0 as const, retain: false };
    const quiet = await RawClient.open(bed.port, 5);
    quiet.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: 'will-quiet',
      clean: true,
      keepalive: 60,
      will: { ...will, topic: 'wills/quiet' },
    });
    await quiet.next('connack');
    quiet.send({ cmd: 'disconnect', reasonCode: 0 });
    await quiet.waitClosed();
    const raw = await RawClient.open(bed.port, 5);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'will-2', clean: true, keepalive: 60, will });
    await raw.next('connack');
    const before = bed.backend.requests.length;
    raw.send({ cmd: 'disconnect', reasonCode: 0x04 });
    await bed.backend.waitFor(before + 1);
    expect(bed.backend.requests.at(-1)!.url).toBe('/messages/wills/w2');
    expect(bed.backend.requests.some((r) => r.url === '/messages/wills/quiet')).toBe(false);
  });

  it('sends the will when the keepalive expires', async () => {
    const raw = await RawClient.open(bed.port, 4);
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: 'will-ka',
      clean: true,
      keepalive: 1,
      will: { topic: 'wills/ka', payload: Buffer.from('ka'), qos: 0, retain: false },
    });
    await raw.next('connack');
    const before = bed.backend.requests.length;
    await raw.waitClosed(5000);
    await bed.backend.waitFor(before + 1);
    expect(bed.backend.requests.at(-1)!.url).toBe('/messages/wills/ka');
  });
});

/**
 * Persistent sessions over real sockets: mosquitto_sub -c going offline and
 * online, MQTT.js v5 Clean Start 0 with Session Expiry, QoS 1 redelivery
 * with DUP after a cut connection, Message Expiry while offline, the queue
 * bound, and the settlement hook (onSettled) of each message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IConnackPacket, IPublishPacket } from 'mqtt-packet';
import type { DeviceMessage } from '../../src/devices/registry.js';
import mqtt from 'mqtt';
import { DEVICE_ROUTES, RawClient, client, startBed, type MqttTestBed } from './mqtt-support.js';
import { run, until } from '../helpers/run.js';

let bed: MqttTestBed;
beforeAll(async () => {
  bed = await startBed({
    routes: DEVICE_ROUTES,
    mqtt: { sessions: { maxExpirySeconds: 60, maxQueuedMessages: 5, maxQueuedBytes: 64, queueQos0: false } },
  });
});
afterAll(async () => {
  await bed.close();
});

interface Settlement {
  readonly delivered: boolean;
  readonly reason?: string;
}

/** Publishes toward devices through the registry; returns the message's settlements (to be exactly one). */
function publish(topic: string, payload: string, extra: Partial<DeviceMessage> = {}): Settlement[] {
  const settled: Settlement[] = [];
  bed.gw.gateway.devices.publish({
    topic,
    payload: Buffer.from(payload),
    qos: 1,
    retain: false,
    onSettled: (delivered, reason) => settled.push({ delivered, ...(reason !== undefined && { reason }) }),
    ...extra,
  });
  return settled;
}

/** Waits for the one settlement of a message and checks it. */
async function settledOnce(settled: Settlement[], expected: Settlement): Promise<void> {
  await until(() => settled.length > 0);
  expect(settled).toEqual([expected]);
}

/** A raw v5 client connected with Clean Start 0 and a Session Expiry Interval. */
async function rawSession(clientId: string, expiry = 30, clean = false): Promise<{ raw: RawClient; ack: IConnackPacket }> {
  const raw = await RawClient.open(bed.port, 5);
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean, keepalive: 60, properties: { sessionExpiryInterval: expiry } });
  const ack = (await raw.next('connack')) as IConnackPacket;
  expect(ack.reasonCode).toBe(0);
  return { raw, ack };
}

async function subscribeRaw(raw: RawClient, topic: string, qos: 0 | 1 | 2 = 1): Promise<void> {
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos }] });
  await raw.next('suback');
}

/** A persistent session subscribed to devices/{clientId}/# whose connection is then cut: offline. */
async function offline(clientId: string): Promise<void> {
  const { raw } = await rawSession(clientId);
  await subscribeRaw(raw, `devices/${clientId}/#`);
  await cut(raw, clientId);
}

/** Cuts the connection and waits until the gateway has parked the session (the client id is offline). */
async function cut(raw: RawClient, clientId: string): Promise<void> {
  raw.destroy();
  await until(() => bed.gw.gateway.devices.lookup(clientId) === undefined);
}

describe('mosquitto_sub -c (MQTT 3.1.1 Clean Session 0)', () => {
  it('receives the messages published while it was offline, in order, without loss', async () => {
    const args = ['-h', '127.0.0.1', '-p', String(bed.port), '-V', 'mqttv311', '-c', '-i', 'mosq-persist', '-q', '1', '-t', 'devices/mosq/#'];
    const first = await run('mosquitto_sub', [...args, '-E']);
    expect(first.code).toBe(0);
    await until(() => bed.gw.gateway.devices.lookup('mosq-persist') === undefined);
    const settled = ['one', 'two', 'three', 'four'].map((p) => publish('devices/mosq/cmd', p));
    const second = await run('mosquitto_sub', [...args, '-C', '4', '-v', '-d'], 10_000);
    expect(second.code).toBe(0);
    expect(second.out).toContain('received CONNACK (0)');
    const lines = second.out.split('\n').filter((l) => l.startsWith('devices/mosq/cmd '));
    expect(lines).toEqual(['devices/mosq/cmd one', 'devices/mosq/cmd two', 'devices/mosq/cmd three', 'devices/mosq/cmd four']);
    // mosquitto_sub exits once it has counted four (-C) and may leave acknowledgements unwritten;
    // what it did not acknowledge stays pending with the session. A third connection that stays
    // (-W) gets those again, with DUP, and acknowledges them: then every message has settled once,
    // delivered.
    await until(() => bed.gw.gateway.devices.lookup('mosq-persist') === undefined);
    const pending = settled.filter((s) => s.length === 0).length;
    const third = await run('mosquitto_sub', [...args, '-W', '2', '-v', '-d'], 10_000);
    expect(third.out).toContain('received CONNACK (0)');
    expect(third.out.split('\n').filter((l) => l.startsWith('devices/mosq/cmd '))).toHaveLength(pending);
    await until(() => settled.every((s) => s.length === 1));
    expect(settled.flat()).toEqual([{ delivered: true }, { delivered: true }, { delivered: true }, { delivered: true }]);
  });
});

describe('MQTT.js v5 Clean Start 0 with Session Expiry', () => {
  it('resumes within the expiry (Session Present 1, subscriptions kept, queued message delivered)', async () => {
    const opts = { protocolVersion: 5 as const, clientId: 'js-resume', clean: false, properties: { sessionExpiryInterval: 30 } };
    const a = await client(bed.port, opts);
    await a.subscribeAsync('devices/js-resume/#', { qos: 1 });
    await a.endAsync();
    await until(() => bed.gw.gateway.devices.lookup('js-resume') === undefined);
    const settled = publish('devices/js-resume/cmd', 'while-away');
    const got: string[] = [];
    const b = mqtt.connect(`mqtt://127.0.0.1:${bed.port}`, { ...opts, reconnectPeriod: 0 });
    b.on('message', (_t, payload) => got.push(payload.toString()));
    const connack = new Promise<IConnackPacket>((r) => b.once('connect', r));
    expect((await connack).sessionPresent).toBe(true);
    await until(() => got.length === 1);
    expect(got).toEqual(['while-away']);
    await until(() => settled.length === 1);
    expect(settled).toEqual([{ delivered: true }]);
    await b.endAsync();
  });

  it('discards the session once its expiry has passed (Session Present 0, nothing delivered)', async () => {
    const opts = { protocolVersion: 5 as const, clientId: 'js-expire', clean: false, properties: { sessionExpiryInterval: 1 } };
    const a = await client(bed.port, opts);
    await a.subscribeAsync('devices/js-expire/#', { qos: 1 });
    await a.endAsync();
    await until(() => bed.gw.gateway.devices.lookup('js-expire') === undefined);
    const settled = publish('devices/js-expire/cmd', 'too-late');
    await until(() => settled.length === 1, 5000);
    expect(settled).toEqual([{ delivered: false, reason: 'session expired' }]);
    const got: string[] = [];
    const b = mqtt.connect(`mqtt://127.0.0.1:${bed.port}`, { ...opts, reconnectPeriod: 0 });
    b.on('message', (_t, payload) => got.push(payload.toString()));
    const connack = new Promise<IConnackPacket>((r) => b.once('connect', r));
    expect((await connack).sessionPresent).toBe(false);
    // The subscription went with the session: a new message does not reach the client either.
    expect(publish('devices/js-expire/cmd', 'after').length).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(got).toEqual([]);
    await b.endAsync();
  });

  it('caps the Session Expiry Interval at sessions.maxExpirySeconds and says so in CONNACK', async () => {
    const { raw, ack } = await rawSession('capped', 100_000);
    expect(ack.properties?.sessionExpiryInterval).toBe(60);
    raw.destroy();
  });
});

describe('redelivery and settlement', () => {
  it('redelivers a QoS 1 message with DUP after the connection is cut before PUBACK [MQTT-4.4.0-1]', async () => {
    const first = await rawSession('dup-1');
    await subscribeRaw(first.raw, 'devices/dup-1/#');
    const settled = publish('devices/dup-1/cmd', 'ack-me');
    const p1 = (await first.raw.next('publish')) as IPublishPacket;
    expect(p1.dup).toBe(false);
    await cut(first.raw, 'dup-1');
    expect(settled).toEqual([]); // in flight: neither delivered nor failed
    const second = await rawSession('dup-1');
    expect(second.ack.sessionPresent).toBe(true);
    const p2 = (await second.raw.next('publish')) as IPublishPacket;
    expect(p2).toMatchObject({ dup: true, qos: 1, messageId: p1.messageId, topic: 'devices/dup-1/cmd' });
    expect(p2.payload.toString()).toBe('ack-me');
    expect(settled).toEqual([]);
    second.raw.send({ cmd: 'puback', messageId: p2.messageId! });
    await settledOnce(settled, { delivered: true });
    second.raw.destroy();
  });

  it('resends PUBREL for a QoS 2 message whose PUBREC arrived before the cut, and settles on PUBCOMP', async () => {
    const first = await rawSession('dup-2');
    await subscribeRaw(first.raw, 'devices/dup-2/#', 2);
    const settled = publish('devices/dup-2/cmd', 'twice?', { qos: 2 });
    const p = (await first.raw.next('publish')) as IPublishPacket;
    first.raw.send({ cmd: 'pubrec', messageId: p.messageId! });
    await first.raw.next('pubrel');
    await cut(first.raw, 'dup-2');
    const second = await rawSession('dup-2');
    const rel = await second.raw.next('pubrel');
    expect((rel as { messageId: number }).messageId).toBe(p.messageId);
    expect(second.raw.packets.some((x) => x.cmd === 'publish')).toBe(false);
    second.raw.send({ cmd: 'pubcomp', messageId: p.messageId! });
    await settledOnce(settled, { delivered: true });
    second.raw.destroy();
  });

  it('drops a message whose Message Expiry passes while the device is offline, and sends the remaining lifetime of the others', async () => {
    await offline('expiring');
    const short = publish('devices/expiring/cmd', 'short', { expiresAt: Date.now() + 300 });
    const long = publish('devices/expiring/cmd', 'long', { expiresAt: Date.now() + 20_000 });
    await new Promise((r) => setTimeout(r, 500));
    const second = await rawSession('expiring');
    const p = (await second.raw.next('publish')) as IPublishPacket;
    expect(p.payload.toString()).toBe('long');
    expect(p.properties?.messageExpiryInterval).toBeGreaterThan(0);
    expect(p.properties?.messageExpiryInterval).toBeLessThanOrEqual(20);
    expect(short).toEqual([{ delivered: false, reason: 'expired' }]);
    second.raw.send({ cmd: 'puback', messageId: p.messageId! });
    await until(() => long.length === 1);
    second.raw.destroy();
  });

  it('bounds the offline queue (messages and bytes): the newest beyond the bound is refused', async () => {
    await offline('bounded');
    const byCount = [1, 2, 3, 4, 5, 6].map((n) => publish('devices/bounded/cmd', `m${n}`));
    await until(() => byCount[5]!.length === 1);
    expect(byCount[5]).toEqual([{ delivered: false, reason: 'session queue full' }]);
    const second = await rawSession('bounded');
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      const p = (await second.raw.next('publish')) as IPublishPacket;
      got.push(p.payload.toString());
      second.raw.send({ cmd: 'puback', messageId: p.messageId! });
    }
    expect(got).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    await cut(second.raw, 'bounded');
    // 64 bytes per session: a 40-byte message fits, a second one does not.
    const big = [publish('devices/bounded/cmd', 'x'.repeat(40)), publish('devices/bounded/cmd', 'y'.repeat(40))];
    await until(() => big[1]!.length === 1);
    expect(big[1]).toEqual([{ delivered: false, reason: 'session queue full' }]);
    const third = await rawSession('bounded');
    const p = (await third.raw.next('publish')) as IPublishPacket;
    expect(p.payload.toString()).toBe('x'.repeat(40));
    third.raw.destroy();
  });

  it('does not queue QoS 0 messages for an offline session (sessions.queueQos0 false)', async () => {
    await offline('no-qos0');
    const r = bed.gw.gateway.devices.publish({ topic: 'devices/no-qos0/x', payload: Buffer.from('q0'), qos: 0, retain: false });
    expect(r).toEqual({ matched: 1, delivered: 0 });
  });

  it('discards the stored session on Clean Start 1 and settles what it owed as not delivered', async () => {
    await offline('cleaned');
    const settled = publish('devices/cleaned/cmd', 'never');
    const second = await rawSession('cleaned', 30, true);
    expect(second.ack.sessionPresent).toBe(false);
    expect(settled).toEqual([{ delivered: false, reason: 'session discarded' }]);
    expect(bed.gw.gateway.devices.publish({ topic: 'devices/cleaned/cmd', payload: Buffer.from('x'), qos: 1, retain: false }).matched).toBe(0);
    second.raw.destroy();
  });

  it('settles a QoS 0 message once written and a QoS 1 message on PUBACK', async () => {
    const { raw } = await rawSession('settle-live');
    await subscribeRaw(raw, 'devices/settle-live/#');
    const q0 = publish('devices/settle-live/a', 'zero', { qos: 0 });
    expect(q0).toEqual([{ delivered: true }]);
    const q1 = publish('devices/settle-live/b', 'one');
    await raw.next('publish');
    const p = (await raw.next('publish')) as IPublishPacket;
    expect(q1).toEqual([]);
    raw.send({ cmd: 'puback', messageId: p.messageId! });
    await until(() => q1.length === 1);
    expect(q1).toEqual([{ delivered: true }]);
    raw.destroy();
  });
});

describe('mqtt.sessions.enabled false', () => {
  let off: MqttTestBed;
  beforeAll(async () => {
    off = await startBed({ routes: DEVICE_ROUTES, mqtt: { sessions: { enabled: false } } });
  });
  afterAll(async () => {
    await off.close();
  });

  it('ends every session with its connection: Session Expiry Interval 0 in CONNACK, Session Present 0 on return', async () => {
    const connect = async (): Promise<{ raw: RawClient; ack: IConnackPacket }> => {
      const raw = await RawClient.open(off.port, 5);
      raw.send({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clientId: 'off',
        clean: false,
        keepalive: 60,
        properties: { sessionExpiryInterval: 30 },
      });
      return { raw, ack: (await raw.next('connack')) as IConnackPacket };
    };
    const first = await connect();
    expect(first.ack.properties?.sessionExpiryInterval).toBe(0);
    await subscribeRaw(first.raw, 'devices/off/#');
    first.raw.destroy();
    await until(() => off.gw.gateway.devices.lookup('off') === undefined);
    expect(off.gw.gateway.devices.publish({ topic: 'devices/off/x', payload: Buffer.from('x'), qos: 1, retain: false }).matched).toBe(0);
    const second = await connect();
    expect(second.ack.sessionPresent).toBe(false);
    second.raw.destroy();
  });
});

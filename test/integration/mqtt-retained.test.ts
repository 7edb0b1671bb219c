/**
 * Retained messages toward devices (MQTT 5.0 §3.3.1.3): kept per topic,
 * sent to new subscriptions with RETAIN 1 (mosquitto_sub, MQTT.js), Retain
 * Handling 0/1/2 and Retain As Published (§3.8.3.1), an empty payload
 * deletes, and the fan-out example's retained siren command reaches a
 * siren that subscribes afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import type { IConnackPacket, IPublishPacket } from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestBackend } from '../helpers/backend.js';
import { run, until } from '../helpers/run.js';
import { RawClient, client } from './mqtt-support.js';

let gw: TestGateway;
let backend: TestBackend;
let port: number;
beforeAll(async () => {
  backend = await TestBackend.start();
  const pool = (name: string): Record<string, unknown> => ({
    name,
    endpoints: [{ url: backend.url }],
    retries: { maxAttempts: 1 },
    outlierDetection: { enabled: false },
  });
  gw = await startGateway({
    listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
    pools: [pool('default'), pool('records')],
    routes: [
      { match: { address: 'devices/#' }, target: 'devices' },
      { match: { address: 'alarms/#' }, script: resolve('scripts-examples/fan-out/script.js') },
      { match: { address: '#' }, pool: 'default', request: { method: 'POST', path: '/messages/{address}' } },
    ],
    scripts: { watch: false },
  });
  port = gw.port('mqtt');
});
afterAll(async () => {
  await gw.stop();
  await backend.close();
});

const host = (): string[] => ['-h', '127.0.0.1', '-p', String(port)];

/** PUBLISH packets a client receives, with their flags. */
function collect(c: MqttClient): IPublishPacket[] {
  const got: IPublishPacket[] = [];
  c.on('message', (_t, _p, packet) => got.push(packet));
  return got;
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));

describe('mosquitto_pub -r / mosquitto_sub', () => {
  it('sends the retained message to a later subscriber with RETAIN 1, and an empty retained payload clears it', async () => {
    expect((await run('mosquitto_pub', [...host(), '-V', 'mqttv311', '-q', '1', '-r', '-t', 'devices/lamp/cmd', '-m', 'on'])).code).toBe(0);
    const sub = await run('mosquitto_sub', [...host(), '-V', 'mqttv311', '-t', 'devices/lamp/#', '-C', '1', '-v', '-d']);
    expect(sub.code).toBe(0);
    expect(sub.out).toContain('devices/lamp/cmd on');
    expect(sub.out).toMatch(/received PUBLISH \(d0, q\d, r1, m\d+, 'devices\/lamp\/cmd'/);
    // -R: mosquitto_sub skips retained (stale) messages; only the live one after it is printed.
    expect((await run('mosquitto_pub', [...host(), '-V', 'mqttv5', '-q', '1', '-r', '-t', 'devices/lamp/cmd', '-n'])).code).toBe(0);
    const empty = await run('mosquitto_sub', [...host(), '-V', 'mqttv5', '-t', 'devices/lamp/#', '-C', '1', '-v', '-W', '1']);
    expect(empty.out).not.toContain('devices/lamp/cmd');
  });

  it('mosquitto_sub -R prints only fresh messages, not the retained one', async () => {
    expect((await run('mosquitto_pub', [...host(), '-q', '1', '-r', '-t', 'devices/fan/cmd', '-m', 'stale'])).code).toBe(0);
    const c = await client(port, { protocolVersion: 5 });
    let done = false;
    const sub = run('mosquitto_sub', [...host(), '-R', '-t', 'devices/fan/#', '-C', '1', '-v', '-W', '10']).finally(() => {
      done = true;
    });
    // mosquitto_sub's SUBSCRIBE may land after any fixed wait on a loaded host:
    // publish fresh (non-retained) messages until it has printed one and exited.
    while (!done) {
      await c.publishAsync('devices/fan/cmd', 'fresh', { qos: 1 });
      await settle();
    }
    const out = (await sub).out;
    expect(out).toContain('devices/fan/cmd fresh');
    expect(out).not.toContain('stale');
    await c.endAsync();
  });
});

describe('MQTT 5 Retain Handling and Retain As Published', () => {
  it('Retain Handling 0 sends on every subscribe, 1 only on a new subscription, 2 never', async () => {
    const pub = await client(port, { protocolVersion: 5 });
    await pub.publishAsync('devices/rh/state', 'kept', { qos: 1, retain: true });
    const c = await client(port, { protocolVersion: 5 });
    const got = collect(c);
    await c.subscribeAsync('devices/rh/#', { qos: 1, rh: 2 });
    await settle();
    expect(got.length).toBe(0);
    await c.unsubscribeAsync('devices/rh/#');
    await c.subscribeAsync('devices/rh/#', { qos: 1, rh: 1 });
    await until(() => got.length === 1);
    expect(got[0]!.retain).toBe(true);
    await c.subscribeAsync('devices/rh/#', { qos: 1, rh: 1 }); // exists already: nothing
    await settle();
    expect(got.length).toBe(1);
    await c.subscribeAsync('devices/rh/#', { qos: 1, rh: 0 });
    await until(() => got.length === 2);
    expect(got.map((p) => p.payload.toString())).toEqual(['kept', 'kept']);
    await Promise.all([c.endAsync(), pub.endAsync()]);
  });

  it('forwards a live retained message with RETAIN 1 only to Retain As Published subscriptions', async () => {
    const rap = await client(port, { protocolVersion: 5 });
    const plain = await client(port, { protocolVersion: 5 });
    const gotRap = collect(rap);
    const gotPlain = collect(plain);
    await rap.subscribeAsync('devices/rap/#', { qos: 1, rap: true, rh: 2 });
    await plain.subscribeAsync('devices/rap/#', { qos: 1, rh: 2 });
    const pub = await client(port, { protocolVersion: 5 });
    await pub.publishAsync('devices/rap/x', 'live', { qos: 1, retain: true });
    await until(() => gotRap.length === 1 && gotPlain.length === 1);
    expect(gotRap[0]!.retain).toBe(true);
    expect(gotPlain[0]!.retain).toBe(false);
    await Promise.all([rap.endAsync(), plain.endAsync(), pub.endAsync()]);
  });

  it('announces Retain Available 1 in CONNACK', async () => {
    const raw = await RawClient.open(port, 5);
    raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'ra', clean: true, keepalive: 60 });
    const ack = (await raw.next('connack')) as IConnackPacket;
    expect(ack.properties?.retainAvailable).toBe(true);
    raw.destroy();
  });
});

describe('scripts-examples/fan-out: the retained siren command', () => {
  it('reaches a siren that subscribes after the alarm', async () => {
    const panel = await client(port, { protocolVersion: 5 });
    await panel.publishAsync('alarms/hq/east', JSON.stringify({ kind: 'smoke' }), { qos: 1 });
    await backend.waitFor(1);
    const siren = await run('mosquitto_sub', [...host(), '-V', 'mqttv5', '-q', '1', '-t', 'sirens/hq/east/command', '-C', '1', '-v', '-d']);
    expect(siren.code).toBe(0);
    expect(siren.out).toContain('sirens/hq/east/command on');
    expect(siren.out).toMatch(/received PUBLISH \(d0, q1, r1/);
    await panel.endAsync();
  });
});

/**
 * MQTT 5 Will Delay Interval (§3.1.3.2.2) with MQTT.js: the Will goes out
 * after its delay unless a new connection for the client id comes first
 * [MQTT-3.1.3-9], or when the session ends if that is sooner.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { until } from '../helpers/run.js';
import { client, startBed, type MqttTestBed } from './mqtt-support.js';

let bed: MqttTestBed;
beforeAll(async () => {
  bed = await startBed();
});
afterAll(async () => {
  await bed.close();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const wills = (topic: string): number => bed.backend.requests.filter((r) => r.url === `/messages/${topic}`).length;

/** A v5 client with a Will on `topic`, its delay and session expiry in seconds. */
function withWill(clientId: string, topic: string, willDelayInterval: number, sessionExpiryInterval: number, extra: IClientOptions = {}): Promise<MqttClient> {
  return client(bed.port, {
    protocolVersion: 5,
    clientId,
    clean: false,
    properties: { sessionExpiryInterval },
    will: { topic, payload: Buffer.from('gone'), qos: 1, retain: false, properties: { willDelayInterval } },
    ...extra,
  });
}

/** Closes the network connection without DISCONNECT: the Will is due. */
function cut(c: MqttClient): void {
  c.stream.destroy();
  c.end(true);
}

it('publishes the Will once its delay has passed, not at the close', async () => {
  const c = await withWill('wd-1', 'wills/wd-1', 2, 60);
  const closedAt = Date.now();
  cut(c);
  await sleep(800);
  expect(wills('wills/wd-1')).toBe(0);
  await until(() => wills('wills/wd-1') === 1, 15_000);
  const req = bed.backend.requests.find((r) => r.url === '/messages/wills/wd-1')!;
  expect(req.at - closedAt).toBeGreaterThanOrEqual(1900);
});

it('deletes the Will when the client id connects again before the delay, also through another listener', async () => {
  const c = await withWill('wd-2', 'wills/wd-2', 2, 60);
  cut(c);
  await until(() => bed.gw.gateway.devices.lookup('wd-2') === undefined);
  const again = await client(bed.port, { protocolVersion: 5, clientId: 'wd-2', clean: false, properties: { sessionExpiryInterval: 60 } });
  await sleep(3000);
  expect(wills('wills/wd-2')).toBe(0);
  await again.endAsync();

  const ws = await withWill('wd-3', 'wills/wd-3', 2, 60);
  cut(ws);
  await until(() => bed.gw.gateway.devices.lookup('wd-3') === undefined);
  const viaWs = await mqtt.connectAsync(`ws://127.0.0.1:${bed.wsPort}/mqtt`, {
    protocolVersion: 5,
    clientId: 'wd-3',
    clean: false,
    reconnectPeriod: 0,
    properties: { sessionExpiryInterval: 60 },
  });
  await sleep(3000);
  expect(wills('wills/wd-3')).toBe(0);
  await viaWs.endAsync();
});

it('deletes a delayed Will when a new connection takes the session over', async () => {
  const c = await withWill('wd-4', 'wills/wd-4', 2, 60);
  c.on('error', () => undefined);
  const taker = await client(bed.port, { protocolVersion: 5, clientId: 'wd-4', clean: false, properties: { sessionExpiryInterval: 60 } });
  await until(() => c.connected === false);
  await sleep(3000);
  expect(wills('wills/wd-4')).toBe(0);
  await taker.endAsync();
});

it('publishes the Will when the session ends before the delay', async () => {
  const ended = await withWill('wd-5', 'wills/wd-5', 600, 1);
  cut(ended);
  await until(() => wills('wills/wd-5') === 1, 15_000);
  // Session Expiry Interval 0: the session ends with the connection, and the Will goes at once.
  const now = await withWill('wd-6', 'wills/wd-6', 600, 0);
  cut(now);
  await until(() => wills('wills/wd-6') === 1, 15_000);
});

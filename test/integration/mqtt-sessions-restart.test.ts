/**
 * Durable persistent sessions and retained messages (embedded backend,
 * `state.durable`): a real gateway process (dist/cli.js) with a mosquitto_sub
 * -c session and a retained message is killed with `kill -9` and started
 * again on the same state directory; the session's subscriptions and queued
 * QoS 1 messages and the retained message come back. With
 * `state.durable: false` they are gone. A session whose connection is open
 * when the process is killed comes back too (written through while it
 * lives): its subscriptions, the QoS 1 message in flight (resent with DUP)
 * and the one queued behind it, and so does its delayed Will.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { startGateway, stopGateway, type GatewayProcess } from '../helpers/cli-process.js';
import { run, until } from '../helpers/run.js';

const dirs: string[] = [];
const running: GatewayProcess[] = [];
afterAll(async () => {
  for (const g of running) await stopGateway(g, 'SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A gateway process starts in well under a second on a quiet host; a loaded one (the full suite on 2 cores) may take many. */
const START_MS = 60_000;

type Start = () => Promise<GatewayProcess>;

/** A fresh folder and what starts a gateway there, with the `state` section given, on the same state each time. */
function gatewayIn(state: Record<string, unknown>): { dir: string; start: Start } {
  const dir = mkdtempSync(join(tmpdir(), 'tg-sess-restart-'));
  dirs.push(dir);
  const start = async (): Promise<GatewayProcess> => {
    const g = await startGateway(join(dir, 'thinggate.json'), {
      routes: [
        { match: { address: 'devices/#' }, target: 'devices' },
        { match: { address: '#' }, pool: 'default' },
      ],
      state,
    });
    running.push(g);
    return g;
  };
  return { dir, start };
}

/** True once every string is in the database files of `dir` (LevelDB's log holds each write as written). */
function onDisk(dir: string, ...texts: string[]): boolean {
  let all = '';
  try {
    for (const f of readdirSync(dir)) all += readFileSync(join(dir, f), 'latin1');
  } catch {
    return false;
  }
  return texts.every((t) => all.includes(t));
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

async function pub(port: number, topic: string, message: string, retain = false): Promise<void> {
  const r = await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-t', topic, '-m', message, ...(retain ? ['-r'] : [])]);
  expect(r.code).toBe(0);
}

/** Parks a Clean Session 0 session of `id` subscribed at QoS 1, queues two messages for it and retains one; then kill -9. */
async function sessionThenKill(start: Start, stateDir: string | undefined, id: string): Promise<void> {
  const first = await start();
  const sub = await run('mosquitto_sub', [
    '-h',
    '127.0.0.1',
    '-p',
    String(first.port),
    '-V',
    'mqttv311',
    '-c',
    '-i',
    id,
    '-q',
    '1',
    '-t',
    `devices/${id}/#`,
    '-E',
  ]);
  expect(sub.code).toBe(0);
  if (stateDir) await until(() => onDisk(join(stateDir, 'sessions'), `devices/${id}/#`), 10_000);
  await pub(first.port, `devices/${id}/cmd`, 'queued-one');
  await pub(first.port, `devices/${id}/cmd`, 'queued-two');
  await pub(first.port, 'devices/status/lamp', 'lamp-on', true);
  // `target: devices` acknowledges the publisher once routed; the stores write within a batch.
  if (stateDir)
    await until(() => onDisk(join(stateDir, 'sessions'), b64('queued-one'), b64('queued-two')) && onDisk(join(stateDir, 'retained'), b64('lamp-on')), 10_000);
  else await new Promise((r) => setTimeout(r, 300));
  await stopGateway(first, 'SIGKILL');
}

it(
  'brings back a persistent session with its queued QoS 1 messages, and retained messages, after kill -9',
  async () => {
    const { dir, start } = gatewayIn({});
    await sessionThenKill(start, join(dir, 'guard'), 'persist-1');

    const second = await start();
    // Parked again at start: a message published before the device is back is queued for it too.
    await pub(second.port, 'devices/persist-1/cmd', 'queued-three');
    const resumed = await run(
      'mosquitto_sub',
      ['-h', '127.0.0.1', '-p', String(second.port), '-V', 'mqttv311', '-c', '-i', 'persist-1', '-q', '1', '-t', 'devices/persist-1/#', '-C', '3', '-v'],
      20_000,
    );
    expect(resumed.code).toBe(0);
    expect(resumed.out.split('\n').filter((l) => l.startsWith('devices/persist-1/cmd '))).toEqual([
      'devices/persist-1/cmd queued-one',
      'devices/persist-1/cmd queued-two',
      'devices/persist-1/cmd queued-three',
    ]);
    const retained = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(second.port), '-t', 'devices/status/#', '-C', '1', '-v'], 20_000);
    expect(retained.code).toBe(0);
    expect(retained.out.trim()).toBe('devices/status/lamp lamp-on');
    await stopGateway(second);
  },
  4 * START_MS,
);

it(
  'keeps sessions and retained messages in memory only with state.durable false',
  async () => {
    const { start } = gatewayIn({ durable: false });
    await sessionThenKill(start, undefined, 'volatile-1');
    const second = await start();
    const resumed = await run(
      'mosquitto_sub',
      ['-h', '127.0.0.1', '-p', String(second.port), '-V', 'mqttv311', '-c', '-i', 'volatile-1', '-q', '1', '-t', 'devices/none', '-W', '2', '-v'],
      20_000,
    );
    expect(resumed.out).not.toContain('queued-one');
    const retained = await run('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(second.port), '-t', 'devices/status/#', '-W', '2', '-v'], 20_000);
    expect(retained.out).not.toContain('lamp-on');
    await stopGateway(second);
  },
  4 * START_MS,
);

it(
  'brings back a session whose connection was open at kill -9: subscriptions, the message in flight and the one queued',
  async () => {
    const { dir, start } = gatewayIn({});
    const sessions = join(dir, 'guard', 'sessions');
    const first = await start();
    // MQTT 5 device that never acknowledges (no PUBACK) and takes one QoS 1 message at a time (Receive Maximum 1).
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${first.port}`, {
      clientId: 'live-1',
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 600, receiveMaximum: 1 },
      reconnectPeriod: 0,
    });
    const got: string[] = [];
    device.handleMessage = (packet, _callback) => {
      got.push(String(packet.payload)); // the callback is what sends PUBACK: never called
    };
    await device.subscribeAsync('devices/live-1/#', { qos: 1 });
    await until(() => onDisk(sessions, 'devices/live-1/#'), 10_000);
    await pub(first.port, 'devices/live-1/cmd', 'inflight-one');
    await until(() => got.includes('inflight-one'), 10_000);
    await pub(first.port, 'devices/live-1/cmd', 'queued-two');
    await until(() => onDisk(sessions, b64('inflight-one'), b64('queued-two')), 10_000);
    expect(got).toEqual(['inflight-one']); // the second waits behind the unacknowledged first
    await stopGateway(first, 'SIGKILL');
    device.end(true);

    const second = await start();
    await pub(second.port, 'devices/live-1/cmd', 'after-restart');
    // Subscribed to an unrelated topic: what arrives comes from the resumed session (Session Present 1) and its subscription.
    const resumed = await run(
      'mosquitto_sub',
      ['-h', '127.0.0.1', '-p', String(second.port), '-V', 'mqttv5', '-x', '600', '-c', '-i', 'live-1', '-q', '1', '-t', 'unrelated/x', '-C', '3', '-v', '-d'],
      20_000,
    );
    expect(resumed.code).toBe(0);
    expect(resumed.out.split('\n').filter((l) => l.startsWith('devices/live-1/cmd '))).toEqual([
      'devices/live-1/cmd inflight-one',
      'devices/live-1/cmd queued-two',
      'devices/live-1/cmd after-restart',
    ]);
    // [MQTT-4.4.0-1]: the message that was in flight is resent with DUP 1 under its packet id.
    expect(resumed.out).toMatch(/received PUBLISH \(d1, q1, r0, m\d+, 'devices\/live-1\/cmd'/);
    await stopGateway(second);
  },
  4 * START_MS,
);

it(
  'publishes a delayed Will after a restart when its delay passes, and not the Will of a client that reconnected first',
  async () => {
    const { dir, start } = gatewayIn({});
    const sessions = join(dir, 'guard', 'sessions');
    const first = await start();
    const url = `mqtt://127.0.0.1:${first.port}`;
    const wills: string[] = [];
    const watcher = await mqtt.connectAsync(url, { clientId: 'watcher-1', protocolVersion: 5, reconnectPeriod: 0 });
    watcher.on('message', (topic, payload) => wills.push(`${topic} ${String(payload)}`));
    await watcher.subscribeAsync('devices/wills/#', { qos: 1 });
    const device = (id: string, delay: number) =>
      mqtt.connectAsync(url, {
        clientId: id,
        clean: false,
        protocolVersion: 5,
        properties: { sessionExpiryInterval: 600 },
        // Retained: a Will published while the restarted gateway starts, before the watcher subscribes, still reaches it.
        will: { topic: `devices/wills/${id}`, payload: Buffer.from(`${id} gone`), qos: 1, retain: true, properties: { willDelayInterval: delay } },
        reconnectPeriod: 0,
      });
    // will-a's Will is due 8 s after its connection drops, will-b's after 45 s (it reconnects after the restart, before then).
    const a = await device('will-a', 8);
    const b = await device('will-b', 45);
    // will-c stays connected until the kill: its Will, written with its held session, is due 8 s after the restart.
    const c = await device('will-c', 8);
    const cut = Date.now();
    a.stream.destroy(); // no DISCONNECT: the Wills are due, after their delays
    b.stream.destroy();
    await until(() => onDisk(sessions, 'devices/wills/will-a', 'devices/wills/will-b', 'devices/wills/will-c'), 10_000);
    await stopGateway(first, 'SIGKILL');
    watcher.end(true);
    a.end(true);
    b.end(true);
    c.end(true);
    // Not published by the first process: it was killed before the delays passed.
    expect(Date.now() - cut).toBeLessThan(8_000);
    expect(wills).toEqual([]);

    const second = await start();
    const url2 = `mqtt://127.0.0.1:${second.port}`;
    const watcher2 = await mqtt.connectAsync(url2, { clientId: 'watcher-2', protocolVersion: 5, reconnectPeriod: 0 });
    watcher2.on('message', (topic, payload) => wills.push(`${topic} ${String(payload)}`));
    await watcher2.subscribeAsync('devices/wills/#', { qos: 1 });
    // [MQTT-3.1.3-9]: a new connection for the client id before the delay deletes the Will.
    const back = await mqtt.connectAsync(url2, {
      clientId: 'will-b',
      clean: false,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 600 },
      reconnectPeriod: 0,
    });
    expect(back.connected).toBe(true);
    expect(Date.now() - cut).toBeLessThan(45_000); // the restart took less than will-b's delay: the negative case holds
    await until(() => wills.includes('devices/wills/will-a will-a gone') && wills.includes('devices/wills/will-c will-c gone'), 30_000);
    // Past will-b's delay: its Will stays unpublished, and will-a's and will-c's went out once.
    await until(() => Date.now() - cut > 47_000, 60_000);
    expect(wills.sort()).toEqual(['devices/wills/will-a will-a gone', 'devices/wills/will-c will-c gone']);
    await back.endAsync();
    await watcher2.endAsync();
    await stopGateway(second);
  },
  4 * START_MS,
);

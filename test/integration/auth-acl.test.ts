/**
 * Authorization and client-id binding with real clients: a device reaches
 * only its own topics (`telemetry/{principal}/#`, `commands/{principal}/#`)
 * on MQTT (v5 PUBACK/SUBACK 0x87, v3.1.1 SUBACK 0x80 and a dropped
 * PUBLISH), HTTP (403), CoAP (4.03) and AMQP (attach refused with
 * amqp:unauthorized-access); a denied message reaches no back-end. The
 * client id is bound to the principal, and no other principal can take a
 * connected client id over (MQTT 0x87/0x05, AMQP unauthorized-access).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import rhea, { type Connection, type EventContext } from 'rhea';
import { execFile } from 'node:child_process';
import { conditionOf, connectionCondition } from '../helpers/amqp.js';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { client, nextEvent } from './mqtt-support.js';
import { TempDir, connackCode, curlPost, run, writeUsers } from './auth-support.js';

const dir = new TempDir();
let backend: TestBackend;
let gw: TestGateway;

beforeAll(async () => {
  await writeUsers(dir.file('users.json'), { alice: { password: 'pw-a' }, bob: { password: 'pw-b' } });
  backend = await TestBackend.start();
  const auth = [{ type: 'password', file: 'users.json' }];
  gw = await startGateway(
    {
      listeners: [
        { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth, clientId: '{principal}*' },
        { name: 'mqtt3', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth, clientId: '{principal}*', mqtt: { deniedPublishV3: 'drop' } },
        { name: 'mqtt-free', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth },
        { name: 'web', protocol: 'http', host: '127.0.0.1', port: 0, auth },
        { name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0, auth },
        { name: 'coap', protocol: 'coap', host: '127.0.0.1', port: 0 },
      ],
      pools: [{ name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
      routes: [{ match: { address: '#' }, pool: 'be', request: { path: '/{listener}/{address}' } }],
      acl: [
        { allow: ['publish'], address: 'telemetry/{principal}/#' },
        { allow: ['subscribe', 'receive'], address: 'commands/{principal}/#' },
        { deny: ['publish', 'subscribe', 'receive'], address: '#' },
      ],
    },
    { baseDir: dir.path },
  );
});

afterAll(async () => {
  await gw?.stop();
  await backend?.close();
  dir.remove();
});

const urls = () => backend.requests.map((r) => r.url);
const settle = () => new Promise((r) => setTimeout(r, 300));

/** The SUBACK codes MQTT.js reports (it rejects when any is a failure). */
async function subackCodes(c: import('mqtt').MqttClient, filter: string, qos: 0 | 1): Promise<number[]> {
  try {
    return (await c.subscribeAsync(filter, { qos })).map((g) => g.qos);
  } catch (err) {
    return (err as { packet: { granted: number[] } }).packet.granted;
  }
}

const connackOn = (listener: string, options: Record<string, unknown>) => connackCode(gw.port(listener), options);

describe('ACL on MQTT', () => {
  it('v5: own topics pass; another device topic gets PUBACK and SUBACK 0x87 and never reaches the back-end', async () => {
    const before = await gw.guardEvents('acl-denied');
    const c = await client(gw.port('mqtt'), { protocolVersion: 5, clientId: 'alice', username: 'alice', password: 'pw-a' });
    await c.publishAsync('telemetry/alice/t', 'ok', { qos: 1 });
    const err = await c.publishAsync('telemetry/bob/t', 'spoof', { qos: 1 }).then(
      () => undefined,
      (e: { code?: number }) => e,
    );
    expect(err?.code).toBe(0x87);
    expect(await subackCodes(c, 'commands/alice/#', 1)).toEqual([1]);
    expect(await subackCodes(c, 'commands/bob/#', 1)).toEqual([0x87]);
    expect(await subackCodes(c, '#', 0)).toEqual([0x87]);
    await c.endAsync();
    expect(urls()).toContain('/mqtt/telemetry/alice/t');
    expect(urls()).not.toContain('/mqtt/telemetry/bob/t');
    expect(await gw.guardEvents('acl-denied')).toBeGreaterThanOrEqual(before + 3);
  });

  it('v3.1.1: SUBACK 0x80 for another device topic; a denied QoS 1 PUBLISH is acknowledged and dropped (deniedPublishV3: drop)', async () => {
    const c = await client(gw.port('mqtt3'), { protocolVersion: 4, clientId: 'bob-3', username: 'bob', password: 'pw-b' });
    expect(await subackCodes(c, 'commands/alice/#', 1)).toEqual([0x80]);
    await c.publishAsync('telemetry/alice/x', 'spoof', { qos: 1 });
    await c.publishAsync('telemetry/bob/x', 'ok', { qos: 1 });
    expect(c.connected).toBe(true);
    await c.endAsync();
    expect(urls()).toContain('/mqtt3/telemetry/bob/x');
    expect(urls()).not.toContain('/mqtt3/telemetry/alice/x');
  });

  it('a device receives its own commands and not another one\u2019s', async () => {
    const sub = await client(gw.port('mqtt'), { protocolVersion: 5, clientId: 'alice-sub', username: 'alice', password: 'pw-a' });
    await sub.subscribeAsync('commands/alice/#', { qos: 1 });
    const got = nextEvent<[string, Buffer]>(sub, 'message');
    const run1 = await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(gw.port('mqtt')),
      '-i',
      'bob-pub',
      '-u',
      'bob',
      '-P',
      'pw-b',
      '-V',
      'mqttv5',
      '-q',
      '1',
      '-t',
      'commands/alice/open',
      '-m',
      'x',
    ]);
    // mosquitto_pub reports the 0x87 PUBACK; nothing reaches alice or a back-end.
    expect(run1.stderr.toLowerCase()).toMatch(/not authori/);
    const raced = await Promise.race([got.then(() => 'message'), settle().then(() => 'none')]);
    expect(raced).toBe('none');
    await sub.endAsync();
  });
});

describe('ACL on HTTP, CoAP and AMQP', () => {
  it('HTTP: 403 for another device topic, 202 for its own', async () => {
    const base = `http://127.0.0.1:${gw.port('web')}/ingress`;
    expect((await curlPost(`${base}/telemetry/alice/h`, ['-u', 'alice:pw-a'])).status).toBe(202);
    expect((await curlPost(`${base}/telemetry/bob/h`, ['-u', 'alice:pw-a'])).status).toBe(403);
    expect(urls()).not.toContain('/web/telemetry/bob/h');
  });

  it('CoAP: an anonymous device gets 4.03 where the ACL names a principal', async () => {
    const r = await new Promise<string>((resolve) =>
      execFile(
        '/usr/bin/coap-client-notls',
        ['-m', 'post', '-e', 'x', '-B', '5', `coap://127.0.0.1:${gw.port('coap')}/telemetry/alice/c`],
        { timeout: 15_000 },
        (_e, out, err) => resolve(out + err),
      ),
    );
    expect(r).toContain('4.03');
    expect(urls()).not.toContain('/coap/telemetry/alice/c');
  });

  it('AMQP: attaching to another device target or source is refused with amqp:unauthorized-access', async () => {
    const conn = await amqpConnect(gw.port('amqp'), 'alice', 'pw-a', 'alice-amqp');
    try {
      const denied = await linkOutcome(conn.open_sender({ target: { address: 'telemetry/bob/a' } }), 'sendable');
      expect(denied).toBe('amqp:unauthorized-access');
      const source = await linkOutcome(conn.open_receiver({ source: { address: 'commands/bob/#' } }), 'receiver_open');
      expect(source).toBe('amqp:unauthorized-access');
      expect(await linkOutcome(conn.open_sender({ target: { address: 'telemetry/alice/a' } }), 'sendable')).toBe('ok');
    } finally {
      conn.close();
    }
  });
});

describe('client-id binding and takeover', () => {
  it('MQTT: a client id not bound to the principal gets 0x85 (v5) / 0x02 (v3.1.1)', async () => {
    expect(await connackOn('mqtt', { protocolVersion: 5, clientId: 'bob', username: 'alice', password: 'pw-a' })).toBe(0x85);
    expect(await connackOn('mqtt', { protocolVersion: 4, clientId: 'bob', username: 'alice', password: 'pw-a' })).toBe(0x02);
  });

  it('MQTT: another principal cannot take over a connected client id (0x87 / 0x05); the same principal can', async () => {
    // mqtt-free has no binding rule: only the takeover check stands between bob and alice's session.
    const first = await client(gw.port('mqtt-free'), { protocolVersion: 5, clientId: 'shared', username: 'alice', password: 'pw-a', reconnectPeriod: 0 });
    const failures = await gw.guardEvents('auth-failure', 'mqtt-free');
    expect(await connackOn('mqtt-free', { protocolVersion: 5, clientId: 'shared', username: 'bob', password: 'pw-b' })).toBe(0x87);
    // A refused takeover is a security event like a wrong password.
    expect(await gw.guardEvents('auth-failure', 'mqtt-free')).toBe(failures + 1);
    expect(await connackOn('mqtt-free', { protocolVersion: 4, clientId: 'shared', username: 'bob', password: 'pw-b' })).toBe(0x05);
    expect(await connackOn('mqtt-free', { protocolVersion: 4, clientId: 'shared' })).toBe(0x04);
    expect(first.connected).toBe(true);
    const closed = nextEvent(first, 'close');
    const second = await client(gw.port('mqtt-free'), { protocolVersion: 5, clientId: 'shared', username: 'alice', password: 'pw-a', reconnectPeriod: 0 });
    await closed;
    await second.endAsync();
  });

  it('AMQP: a container-id in use by another principal is refused with amqp:unauthorized-access', async () => {
    const a = await amqpConnect(gw.port('amqp'), 'alice', 'pw-a', 'box-1');
    try {
      await expect(amqpConnect(gw.port('amqp'), 'bob', 'pw-b', 'box-1')).rejects.toThrow('amqp:unauthorized-access');
      const again = await amqpConnect(gw.port('amqp'), 'alice', 'pw-a', 'box-1');
      again.close();
    } finally {
      a.close();
    }
  });
});

/** An admitted AMQP connection (a sender got credit), or rejects with the close condition. */
function amqpConnect(port: number, username: string, password: string, id: string): Promise<Connection> {
  const container = rhea.create_container({ id });
  container.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const conn = container.connect({ port, host: '127.0.0.1', reconnect: false, username, password });
    conn.on('connection_error', (ctx: EventContext) => reject(new Error(connectionCondition(ctx) ?? 'connection error')));
    conn.on('disconnected', () => reject(new Error('disconnected')));
    conn.on('error', () => undefined);
    // Credit arrives only after admission: the connection is then truly admitted.
    const probe = conn.open_sender({ target: { address: `telemetry/${username}/probe` } });
    probe.once('sendable', () => {
      probe.close();
      resolve(conn);
    });
  });
}

/** 'ok' once the link is usable, or the condition it was detached with. */
function linkOutcome(link: rhea.Sender | rhea.Receiver, ready: 'sendable' | 'receiver_open'): Promise<string> {
  return new Promise((resolve) => {
    link.on('sender_error', () => resolve(conditionOf(link) ?? 'error'));
    link.on('receiver_error', () => resolve(conditionOf(link) ?? 'error'));
    link.on('sender_close', () => resolve(conditionOf(link) ?? 'closed'));
    link.on('receiver_close', () => resolve(conditionOf(link) ?? 'closed'));
    link.once(ready, () => setTimeout(() => resolve(link.is_closed() ? (conditionOf(link) ?? 'closed') : 'ok'), 200));
  });
}

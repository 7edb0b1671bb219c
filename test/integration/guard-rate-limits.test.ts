/**
 * guard.limits over real sockets, one listener per protocol and action,
 * each with small buckets of its own (listeners[].guard.limits): MQTT 5
 * PUBACK 0x97 and SUBACK 0x97, MQTT 5 DISCONNECT 0x97, MQTT 3.1.1 paused
 * reads (mosquitto_pub: every message arrives, later), AMQP withheld credit
 * (every message accepted) and refused link attach, CoAP 4.29 with Max-Age
 * (coap-client-notls), HTTP 429 with Retry-After (curl), the dry run
 * (`action: log`), and scoring that bans a client that keeps hitting its limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import mqtt from 'mqtt';
import rhea, { type Connection, type EventContext, type Sender } from 'rhea';
import { conditionOf } from '../helpers/amqp.js';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { run, until } from '../helpers/run.js';

let backend: TestBackend;
let gw: TestGateway;

/** A bucket that refills too slowly to matter during a test: `burst` and then nothing. */
const only = (burst: number) => ({ perSecond: 0.001, burst });

beforeAll(async () => {
  backend = await TestBackend.start();
  gw = await startGateway({
    listeners: [
      {
        name: 'puback',
        protocol: 'mqtt',
        host: '127.0.0.1',
        port: 0,
        guard: { limits: { messages: { clientId: only(2) }, subscriptions: { clientId: only(2) } } },
      },
      {
        name: 'disc',
        protocol: 'mqtt',
        host: '127.0.0.1',
        port: 0,
        guard: { limits: { mqtt5: 'disconnect', mqtt5DisconnectReasonCode: 151, bytes: { clientId: { perSecond: 0.001, burst: 100 } } } },
      },
      { name: 'pause', protocol: 'mqtt', host: '127.0.0.1', port: 0, guard: { limits: { messages: { clientId: { perSecond: 20, burst: 5 } } } } },
      { name: 'spread', protocol: 'mqtt', host: '127.0.0.1', port: 0, guard: { limits: { messages: { clientId: { perSecond: 25, burst: 5 } } } } },
      { name: 'dry', protocol: 'mqtt', host: '127.0.0.1', port: 0, guard: { limits: { action: 'log', messages: { clientId: only(1) } } } },
      {
        name: 'amqp',
        protocol: 'amqp',
        host: '127.0.0.1',
        port: 0,
        // A small credit window, so the device runs out of credit while it is withheld.
        limits: { maxInflight: 4 },
        guard: { limits: { messages: { address: { perSecond: 20, burst: 5 } }, links: { clientId: only(2) } } },
      },
      { name: 'coap', protocol: 'coap', host: '127.0.0.1', port: 0, guard: { limits: { messages: { address: only(2) } } } },
      { name: 'web', protocol: 'http', host: '127.0.0.1', port: 0, guard: { limits: { messages: { clientId: only(2) } } } },
    ],
    pools: [{ name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 }, outlierDetection: { enabled: false } }],
    routes: [{ match: { address: '#' }, pool: 'be', request: { method: 'POST', path: '/{listener}/{address}' } }],
    // Loopback is exempt by default; these tests need it limited. Refusals do not score here (see the scoring test).
    guard: { exempt: [], scoring: { weights: { 'rate-limited': 0 } } },
  });
});

afterAll(async () => {
  await gw?.stop();
  await backend?.close();
});

const arrived = (listener: string) => backend.requests.filter((r) => r.url.startsWith(`/${listener}/`)).length;

function connectMqtt(listener: string, clientId: string, protocolVersion: 4 | 5 = 5): Promise<mqtt.MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${gw.port(listener)}`, { clientId, protocolVersion, reconnectPeriod: 0 });
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** PUBACK reason code of one QoS 1 PUBLISH (MQTT.js rejects a failure code with an error carrying it). */
function pubackCode(c: mqtt.MqttClient, topic: string): Promise<number> {
  return c.publishAsync(topic, 'x', { qos: 1 }).then(
    (packet) => (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0,
    (e: { code?: number }) => e.code ?? -1,
  );
}

/** The SUBACK codes MQTT.js reports (it rejects when any is a failure). */
async function subackCodes(c: mqtt.MqttClient, filters: string[]): Promise<number[]> {
  try {
    return (await c.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    return (err as { packet: { granted: number[] } }).packet.granted;
  }
}

async function throttled(listener: string, resource: string): Promise<number> {
  const metric = gw.gateway.metrics.registry.getSingleMetric('thinggate_guard_throttled_total');
  const values = metric ? (await metric.get()).values : [];
  return values.filter((v) => v.labels.listener === listener && v.labels.resource === resource).reduce((n, v) => n + v.value, 0);
}

describe('MQTT', () => {
  it('MQTT 5 over the message rate: PUBACK 0x97 (0x96 is DISCONNECT-only), the message is not dispatched, other clients unaffected', async () => {
    const c = await connectMqtt('puback', 'rate-a');
    const other = await connectMqtt('puback', 'rate-b');
    try {
      const codes = [];
      for (let i = 0; i < 4; i++) codes.push(await pubackCode(c, 't/a'));
      expect(codes).toEqual([0, 0, 0x97, 0x97]);
      expect(await pubackCode(other, 't/b')).toBe(0);
      expect(arrived('puback')).toBe(3);
      expect(await throttled('puback', 'messages')).toBe(2);
      expect(await gw.guardEvents('rate-limited', 'puback')).toBe(2);
      expect(c.connected).toBe(true);
    } finally {
      c.end(true);
      other.end(true);
    }
  });

  it('MQTT 5 over the subscription rate: SUBACK 0x97 for the filters beyond the burst', async () => {
    const c = await connectMqtt('puback', 'subs-a');
    try {
      expect(await subackCodes(c, ['s/1', 's/2', 's/3'])).toEqual([1, 1, 0x97]);
    } finally {
      c.end(true);
    }
  });

  it('MQTT 5 with mqtt5: disconnect ends the connection with DISCONNECT 0x97 once the byte rate is passed', async () => {
    const c = await connectMqtt('disc', 'bytes-a');
    const reason = new Promise<number>((resolve) => c.once('disconnect', (p) => resolve(p.reasonCode ?? 0)));
    await c.publishAsync('t/d', Buffer.alloc(80, 1), { qos: 1 });
    c.publish('t/d', Buffer.alloc(80, 1), { qos: 0 });
    expect(await reason).toBe(0x97);
    c.end(true);
    expect(arrived('disc')).toBe(1);
  });

  it('MQTT 3.1.1 over the rate: reads pause and resume, every message arrives (mosquitto_pub)', async () => {
    const before = arrived('pause');
    const started = Date.now();
    const lines = Array.from({ length: 25 }, (_, i) => `m${i}`).join('\n');
    const code = await new Promise<number>((resolve) => {
      const p = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(gw.port('pause')), '-V', 'mqttv311', '-q', '1', '-i', 'slowed', '-t', 't/p', '-l']);
      p.on('exit', (c) => resolve(c ?? 1));
      p.stdin.end(`${lines}\n`);
    });
    expect(code).toBe(0);
    await until(() => arrived('pause') - before === 25);
    // 5 in the burst, then 20 at 20/s: at least about a second (the lower bound holds however loaded the host is).
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    expect(await throttled('pause', 'messages')).toBeGreaterThan(0);
  });

  it('QoS 0 over the rate: a read of many PUBLISHes goes on at the rate, not in one burst', async () => {
    const before = arrived('spread');
    const s = netConnect(gw.port('spread'), '127.0.0.1');
    s.on('error', () => undefined);
    try {
      await new Promise((r) => s.once('connect', r));
      // MQTT 3.1.1 CONNECT, client id "spread"; then 60 QoS 0 PUBLISHes to t/s in one write (one read on the server).
      s.write(Buffer.from([0x10, 0x12, 0, 4, 77, 81, 84, 84, 4, 2, 0, 60, 0, 6, ...Buffer.from('spread')]));
      await new Promise((r) => s.once('data', r));
      const publish = Buffer.from([0x30, 0x06, 0, 3, 116, 47, 115, 120]);
      const started = Date.now();
      s.write(Buffer.concat(Array.from({ length: 60 }, () => publish)));
      // Sampled while they arrive: never more than the burst (5) and what 25/s refilled since, with some slack
      // (before, the whole read was dispatched at once and arrived within a fraction of a second).
      while (arrived('spread') - before < 60 && Date.now() - started < 10_000) {
        await new Promise((r) => setTimeout(r, 20));
        expect(arrived('spread') - before).toBeLessThanOrEqual(5 + (25 * (Date.now() - started)) / 1000 + 10);
      }
      // Every one of them arrives (nothing received is dropped).
      expect(arrived('spread') - before).toBe(60);
    } finally {
      s.destroy();
    }
  });

  it('action: log reports the limit but lets every message through', async () => {
    const c = await connectMqtt('dry', 'dry-a');
    try {
      const codes = [];
      for (let i = 0; i < 3; i++) codes.push(await pubackCode(c, 't/y'));
      expect(codes).toEqual([0, 0, 0]);
      expect(await gw.guardEvents('rate-limited', 'dry')).toBe(2);
      expect(gw.logs.some((l) => l.kind === 'rate-limited' && String(l.detail).includes('not enforced'))).toBe(true);
    } finally {
      c.end(true);
    }
  });
});

function amqpOpen(id: string): Promise<Connection> {
  return new Promise((resolve, reject) => {
    const conn = rhea.create_container({ id }).connect({ port: gw.port('amqp'), host: '127.0.0.1', reconnect: false });
    conn.once('connection_open', () => resolve(conn));
    conn.once('disconnected', () => reject(new Error('disconnected')));
  });
}

describe('AMQP', () => {
  it('over the message rate, credit is withheld and every message is still accepted', async () => {
    const conn = await amqpOpen('amqp-rate');
    try {
      const sender: Sender = conn.open_sender({ target: { address: 't/amqp' } });
      const started = Date.now();
      let accepted = 0;
      let queued = 0;
      sender.on('accepted', () => accepted++);
      const pump = () => {
        while (queued < 25 && sender.sendable()) {
          sender.send({ body: `m${queued}` });
          queued++;
        }
      };
      sender.on('sendable', pump);
      await until(() => accepted === 25, 15_000);
      expect(arrived('amqp')).toBe(25);
      expect(Date.now() - started).toBeGreaterThanOrEqual(800);
      expect(await throttled('amqp', 'messages')).toBeGreaterThan(0);
    } finally {
      conn.close();
    }
  });

  it('over the link rate, the attach is refused with amqp:resource-limit-exceeded', async () => {
    const conn = await amqpOpen('amqp-links');
    try {
      const outcome = (s: Sender) =>
        new Promise<string>((resolve) => {
          s.once('sendable', () => resolve('ok'));
          s.once('sender_close', (x: EventContext) => resolve(conditionOf(x.sender) ?? 'closed'));
        });
      expect(await outcome(conn.open_sender({ target: { address: 'l/1' } }))).toBe('ok');
      expect(await outcome(conn.open_sender({ target: { address: 'l/2' } }))).toBe('ok');
      expect(await outcome(conn.open_sender({ target: { address: 'l/3' } }))).toBe('amqp:resource-limit-exceeded');
    } finally {
      conn.close();
    }
  });
});

function coapPost(path: string): Promise<string> {
  return new Promise((resolve) =>
    execFile(
      '/usr/bin/coap-client-notls',
      ['-m', 'post', '-e', 'x', '-B', '5', `coap://127.0.0.1:${gw.port('coap')}/${path}`],
      { timeout: 15_000 },
      (_e, out, err) => resolve(out + err),
    ),
  );
}

describe('CoAP and HTTP', () => {
  it('CoAP over the message rate: 4.29 (coap-client-notls), nothing dispatched', async () => {
    expect(await coapPost('c/1')).not.toContain('4.29');
    expect(await coapPost('c/2')).not.toContain('4.29');
    expect(await coapPost('c/3')).toContain('4.29');
    expect(arrived('coap')).toBe(2);
    expect(await throttled('coap', 'messages')).toBe(1);
  });

  it('HTTP over the message rate: 429 with Retry-After (curl), nothing dispatched', async () => {
    const curl = () => run('curl', ['-s', '-i', '-X', 'POST', '-H', 'x-client-id: web-a', '-d', 'x', `http://127.0.0.1:${gw.port('web')}/ingress/h`]);
    expect((await curl()).out).toMatch(/^HTTP\/1.1 202/);
    expect((await curl()).out).toMatch(/^HTTP\/1.1 202/);
    const refused = (await curl()).out;
    expect(refused).toMatch(/^HTTP\/1.1 429/);
    expect(refused).toMatch(/retry-after: \d+/i);
    expect(refused).toContain('TG_ERR_RATE_LIMITED');
    expect(arrived('web')).toBe(2);
  });
});

describe('scoring', () => {
  it('a client that keeps hitting its limit is banned with its address (its next connection is dropped at accept)', async () => {
    const b = await TestBackend.start();
    const g = await startGateway({
      listeners: [{ name: 'm', protocol: 'mqtt', host: '127.0.0.1', port: 0, guard: { limits: { messages: { clientId: only(1) } } } }],
      pools: [{ name: 'be', endpoints: [{ url: b.url }], retries: { maxAttempts: 1 } }],
      routes: [{ match: { address: '#' }, pool: 'be', request: { method: 'POST', path: '/{address}' } }],
      guard: { exempt: [], scoring: { threshold: 3 } },
    });
    try {
      const c = mqtt.connect(`mqtt://127.0.0.1:${g.port('m')}`, { clientId: 'hammer', protocolVersion: 5, reconnectPeriod: 0 });
      await new Promise((r) => c.once('connect', r));
      for (let i = 0; i < 6; i++) await pubackCode(c, 't/h');
      c.end(true);
      const bans = g.gateway.bans.list().filter((ban) => ban.source === 'scoring');
      expect(bans.map((ban) => `${ban.kind}:${ban.value}`).sort()).toEqual(['clientId:hammer', 'ip:127.0.0.1']);
      const code = await new Promise<number>((resolve) => {
        const again = mqtt.connect(`mqtt://127.0.0.1:${g.port('m')}`, { clientId: 'hammer', protocolVersion: 5, reconnectPeriod: 0 });
        again.once('connect', () => (again.end(true), resolve(0)));
        again.once('error', (err: Error & { code?: number }) => (again.end(true), resolve(err.code ?? -1)));
        again.once('close', () => resolve(-1));
      });
      expect(code).toBe(-1);
    } finally {
      await g.stop();
      await b.close();
    }
  });
});

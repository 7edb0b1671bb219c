/**
 * Every decision kind end to end over MQTT: MQTT.js clients → thinggate's
 * MQTT listener → routing script → real HTTP back-end or subscribed devices,
 * plus admission through onConnect and failure outcomes as v5 reason codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IPublishPacket } from 'mqtt-packet';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestBackend } from '../helpers/backend.js';
import { ScriptDir } from '../unit/scripting/support.js';
import { client } from './mqtt-support.js';

const dir = new ScriptDir();
dir.write(
  'device-api.js',
  `
export function onConnect(client) {
  if (client.clientId.startsWith('banned')) return reject('banned device', 403);
  if (client.username === 'ops') return client.password === 'pw' ? accept({ attributes: { role: 'ops' } }) : reject('bad password', 401);
}
export function onMessage(msg, ctx) {
  const kind = msg.address.split('/')[1];
  switch (kind) {
    case 'route': return route('default', { path: '/ingest/' + msg.clientId, body: { v: msg.json().v, role: msg.identity?.attributes.role ?? null } });
    case 'reply': return reply('pong:' + msg.text(), { contentType: 'text/plain' });
    case 'drop': return drop('ignored');
    case 'reject': return reject('read-only topic', 403);
    case 'publish': return publish('alerts/' + msg.clientId, msg.payload, { qos: 1 });
    case 'ask': return route('default', { path: '/ask', reply: true });
    case 'throw': throw new Error('script bug');
  }
  return reject('unknown', 404);
}
export function onResponse(res) { return reply({ answer: res.text() }); }
`,
);

let gw: TestGateway;
let backend: TestBackend;
let port: number;

beforeAll(async () => {
  backend = await TestBackend.start((req) => (req.url === '/ask' ? { status: 200, body: '42' } : { status: 204 }));
  gw = await startGateway(
    {
      listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
      pools: [{ name: 'default', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
      routes: [{ match: { address: 'dev/#' }, pool: 'default', script: 'device-api.js' }],
      scripts: { watch: false, throttle: { failures: 2, cooldownMs: 60000 } },
    },
    { baseDir: dir.path },
  );
  port = gw.port('mqtt');
});

afterAll(async () => {
  await gw.stop();
  await backend.close();
  dir.remove();
});

const failCode = (p: Promise<unknown>) =>
  p.then(
    () => 0,
    (e: unknown) => (e as { code?: number }).code ?? -1,
  );

describe('decisions over MQTT 5', () => {
  it('route: the back-end receives the transformed message and the device gets PUBACK success', async () => {
    const c = await client(port, { protocolVersion: 5, clientId: 'sensor-1' });
    try {
      const before = backend.requests.length;
      await c.publishAsync('dev/route', '{"v":3}', { qos: 1 });
      expect(backend.requests.length).toBe(before + 1);
      expect(backend.requests.at(-1)).toMatchObject({ method: 'POST', url: '/ingest/sensor-1' });
      expect(backend.requests.at(-1)!.body.toString()).toBe('{"v":3,"role":null}');
    } finally {
      await c.endAsync();
    }
  });

  it('reply: the script answers on the response topic without a back-end', async () => {
    const c = await client(port, { protocolVersion: 5, clientId: 'asker' });
    try {
      const got = new Promise<IPublishPacket>((resolve) => c.once('message', (_t, _p, packet) => resolve(packet)));
      await c.publishAsync('dev/reply', 'ping', { qos: 1, properties: { responseTopic: 'replies/asker', correlationData: Buffer.from('r1') } });
      const r = await got;
      expect(r.topic).toBe('replies/asker');
      expect(r.payload.toString()).toBe('pong:ping');
      expect(r.properties?.correlationData?.toString()).toBe('r1');
    } finally {
      await c.endAsync();
    }
  });

  it('route with reply: the back-end answer, shaped by onResponse, goes back to the device', async () => {
    const c = await client(port, { protocolVersion: 5, clientId: 'inquirer' });
    try {
      const got = new Promise<IPublishPacket>((resolve) => c.once('message', (_t, _p, packet) => resolve(packet)));
      await c.publishAsync('dev/ask', 'q', { qos: 1, properties: { responseTopic: 'replies/inquirer' } });
      expect((await got).payload.toString()).toBe('{"answer":"42"}');
    } finally {
      await c.endAsync();
    }
  });

  it('drop: PUBACK success and nothing reaches the back-end', async () => {
    const c = await client(port, { protocolVersion: 5 });
    try {
      const before = backend.requests.length;
      expect(await failCode(c.publishAsync('dev/drop', 'x', { qos: 1 }))).toBe(0);
      expect(backend.requests.length).toBe(before);
    } finally {
      await c.endAsync();
    }
  });

  it('reject: PUBACK with reason 0x87 (not authorized)', async () => {
    const c = await client(port, { protocolVersion: 5 });
    try {
      expect(await failCode(c.publishAsync('dev/reject', 'x', { qos: 1 }))).toBe(0x87);
    } finally {
      await c.endAsync();
    }
  });

  it('publish: delivered to a device subscribed to the topic', async () => {
    const sub = await client(port, { protocolVersion: 5, clientId: 'watcher' });
    const pub = await client(port, { protocolVersion: 5, clientId: 'alarm-panel' });
    try {
      await sub.subscribeAsync('alerts/#', { qos: 1 });
      const got = new Promise<[string, Buffer]>((resolve) => sub.once('message', (t, p) => resolve([t, p])));
      await pub.publishAsync('dev/publish', 'fire!', { qos: 1 });
      const [topic, payload] = await got;
      expect(topic).toBe('alerts/alarm-panel');
      expect(payload.toString()).toBe('fire!');
    } finally {
      await pub.endAsync();
      await sub.endAsync();
    }
  });

  it('a throwing script gives 0x80 to that message; a device that keeps failing is throttled (0x97) while others are served', async () => {
    const bad = await client(port, { protocolVersion: 5, clientId: 'buggy' });
    const good = await client(port, { protocolVersion: 5, clientId: 'healthy' });
    try {
      expect(await failCode(bad.publishAsync('dev/throw', 'x', { qos: 1 }))).toBe(0x80);
      expect(await failCode(bad.publishAsync('dev/throw', 'x', { qos: 1 }))).toBe(0x80);
      expect(await failCode(bad.publishAsync('dev/route', '{"v":1}', { qos: 1 }))).toBe(0x97);
      expect(await failCode(good.publishAsync('dev/route', '{"v":1}', { qos: 1 }))).toBe(0);
      expect(gw.logs.some((l) => l.code === 'TG_ERR_SCRIPT_THREW' && l.script === 'device-api.js' && l.line === 15)).toBe(true);
      const metrics = await gw.gateway.metrics.text();
      expect(metrics).toMatch(/thinggate_script_errors_total\{script="device-api.js",code="TG_ERR_SCRIPT_THREW"\} 2/);
      expect(metrics).toMatch(/thinggate_script_errors_total\{script="device-api.js",code="TG_ERR_SCRIPT_THROTTLED"\} 1/);
    } finally {
      await bad.endAsync();
      await good.endAsync();
    }
  });
});

describe('admission with onConnect', () => {
  it('refuses a banned client with CONNACK 0x87 and a bad password with 0x86', async () => {
    const banned = await client(port, { protocolVersion: 5, clientId: 'banned-7' }).then(
      () => 0,
      (e: unknown) => (e as { code?: number }).code,
    );
    expect(banned).toBe(0x87);
    const wrong = await client(port, { protocolVersion: 5, clientId: 'console', username: 'ops', password: 'nope' }).then(
      () => 0,
      (e: unknown) => (e as { code?: number }).code,
    );
    expect(wrong).toBe(0x86);
  });

  it('attaches attributes to the identity that later messages carry', async () => {
    const c = await client(port, { protocolVersion: 5, clientId: 'console', username: 'ops', password: 'pw' });
    try {
      await c.publishAsync('dev/route', '{"v":9}', { qos: 1 });
      expect(backend.requests.at(-1)!.body.toString()).toBe('{"v":9,"role":"ops"}');
    } finally {
      await c.endAsync();
    }
  });
});

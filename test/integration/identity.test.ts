/**
 * Regression: credentials nothing verified never become an identity. With no
 * admission step, an AMQP SASL PLAIN user, an MQTT user name, HTTP Basic
 * credentials and a CoAP source are anonymous: the back-end gets no
 * `x-thinggate-identity`. Only an identity an `onConnect` script returned is
 * sent, and no device header a script copies can stand in for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import rhea, { type Connection, type EventContext } from 'rhea';
import { connectionCondition } from '../helpers/amqp.js';
import { TestBackend, type RecordedRequest } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { ScriptDir } from '../unit/scripting/support.js';
import { client } from './mqtt-support.js';
import { RawClient } from './coap-support.js';

const GATE = `
export function onConnect(client) {
  if (client.username === 'admin') return client.password === 'right' ? accept({ principal: 'admin' }) : reject('bad password', 401);
  return true; // admitted, but nothing verified: anonymous
}
// Copies the device's own headers (MQTT 5 user properties, AMQP application properties) to the back-end.
export function onMessage(msg) { return route('be', { headers: msg.headers }); }
`;

const dir = new ScriptDir();
dir.write('gate.js', GATE);
let backend: TestBackend;
let open: TestGateway;
let gated: TestGateway;

beforeAll(async () => {
  backend = await TestBackend.start();
  const listeners = [
    { name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0 },
    { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
    { name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 },
    { name: 'coap', protocol: 'coap', host: '127.0.0.1', port: 0 },
  ];
  const pools = [{ name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }];
  open = await startGateway({ listeners, pools, routes: [{ match: { address: '#' }, pool: 'be', request: { path: '/open/{address}' } }] });
  gated = await startGateway(
    {
      listeners,
      pools,
      routes: [{ match: { address: '#' }, script: 'gate.js', pool: 'be', request: { path: '/gated/{address}' } }],
      scripts: { watch: false },
    },
    { baseDir: dir.path },
  );
});

afterAll(async () => {
  await open?.stop();
  await gated?.stop();
  await backend?.close();
  dir.remove();
});

/** The back-end request for `path`, once it has arrived. */
async function requestFor(path: string): Promise<RecordedRequest> {
  for (let i = 0; i < 200; i++) {
    const r = backend.requests.find((q) => q.url === path);
    if (r) return r;
    await new Promise((res) => setTimeout(res, 25));
  }
  throw new Error(`no back-end request for ${path}`);
}

/** Connects with rhea over SASL PLAIN, sends one unsettled message to `address` and resolves with its outcome. */
function amqpSend(port: number, username: string, password: string, address: string, properties: Record<string, string> = {}): Promise<string> {
  const container = rhea.create_container({ id: `id-${username}-${address.replace(/\W/g, '-')}` });
  container.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const conn: Connection = container.connect({ port, host: '127.0.0.1', reconnect: false, username, password });
    const finish = (outcome: string): void => {
      conn.close();
      resolve(outcome);
    };
    conn.once('connection_error', (ctx: EventContext) => finish(`connection_error:${connectionCondition(ctx) ?? '?'}`));
    conn.once('disconnected', (ctx: EventContext) => reject(ctx.error ?? new Error('disconnected')));
    const s = conn.open_sender({ target: { address } });
    s.once('sendable', () => s.send({ body: 'x', application_properties: properties }));
    s.once('accepted', () => finish('accepted'));
    s.once('rejected', () => finish('rejected'));
    s.once('released', () => finish('released'));
  });
}

describe('without an admission step', () => {
  it('AMQP SASL PLAIN with any password is anonymous: no x-thinggate-identity', async () => {
    expect(await amqpSend(open.port('amqp'), 'admin', 'wrong', 'amqp/plain')).toBe('accepted');
    const req = await requestFor('/open/amqp/plain');
    expect(req.headers['x-thinggate-client-id']).toBe('id-admin-amqp-plain');
    expect(req.headers['x-thinggate-identity']).toBeUndefined();
  });

  it('an MQTT user name is anonymous: no x-thinggate-identity', async () => {
    const c = await client(open.port('mqtt'), { clientId: 'mqtt-admin', username: 'admin', password: 'wrong' });
    try {
      await c.publishAsync('mqtt/user', 'x', { qos: 1 });
    } finally {
      await c.endAsync();
    }
    expect((await requestFor('/open/mqtt/user')).headers['x-thinggate-identity']).toBeUndefined();
  });

  it('HTTP Basic credentials are anonymous: no x-thinggate-identity', async () => {
    const res = await fetch(`http://127.0.0.1:${open.port('web')}/ingress/http/basic`, {
      method: 'POST',
      body: 'x',
      headers: { authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}` },
    });
    expect(res.status).toBe(202);
    expect((await requestFor('/open/http/basic')).headers['x-thinggate-identity']).toBeUndefined();
  });

  it('a CoAP source (no credentials at all) is anonymous: no x-thinggate-identity', async () => {
    const raw = await new RawClient(open.port('coap')).open();
    try {
      raw.send({
        confirmable: true,
        code: 'POST',
        messageId: 1,
        token: Buffer.from([1]),
        options: [{ name: 'Uri-Path', value: Buffer.from('coap') }],
        payload: Buffer.from('x'),
      });
      expect((await raw.next()).msg.code).toBe('2.04');
    } finally {
      await raw.close();
    }
    expect((await requestFor('/open/coap')).headers['x-thinggate-identity']).toBeUndefined();
  });
});

describe('with an onConnect script', () => {
  it('AMQP: the identity the script verified is sent; a wrong password is refused', async () => {
    const port = gated.port('amqp');
    expect(await amqpSend(port, 'admin', 'right', 'amqp/ok')).toBe('accepted');
    expect((await requestFor('/gated/amqp/ok')).headers['x-thinggate-identity']).toBe('admin');
    expect(await amqpSend(port, 'admin', 'wrong', 'amqp/bad')).toBe('connection_error:amqp:unauthorized-access');
  });

  it('AMQP: a user the script admitted without an identity stays anonymous, whatever its application properties say', async () => {
    expect(await amqpSend(gated.port('amqp'), 'guest', 'any', 'amqp/guest', { 'x-thinggate-identity': 'admin' })).toBe('accepted');
    expect((await requestFor('/gated/amqp/guest')).headers['x-thinggate-identity']).toBeUndefined();
  });

  it('MQTT: the verified identity is sent; an unverified user forging the header in a user property is not', async () => {
    const port = gated.port('mqtt');
    const admin = await client(port, { clientId: 'mqtt-ok', username: 'admin', password: 'right' });
    const guest = await client(port, { protocolVersion: 5, clientId: 'mqtt-guest', username: 'guest', password: 'any' });
    try {
      await admin.publishAsync('mqtt/ok', 'x', { qos: 1 });
      await guest.publishAsync('mqtt/guest', 'x', { qos: 1, properties: { userProperties: { 'x-thinggate-identity': 'admin' } } });
    } finally {
      await admin.endAsync();
      await guest.endAsync();
    }
    expect((await requestFor('/gated/mqtt/ok')).headers['x-thinggate-identity']).toBe('admin');
    const forged = await requestFor('/gated/mqtt/guest');
    expect(forged.headers['x-thinggate-client-id']).toBe('mqtt-guest');
    expect(forged.headers['x-thinggate-identity']).toBeUndefined();
  });
});

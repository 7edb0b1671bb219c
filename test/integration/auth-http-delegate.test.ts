/**
 * The `http` authenticator against a real auth service (a TestBackend the
 * test answers for): allow with the identity the service names, deny (401 →
 * CONNACK 0x86, 403 → 0x87), and a service that is down, per `onError`.
 * Answers are cached, so a reconnect does not ask again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { connackCode, requestFor } from './auth-support.js';
import { client } from './mqtt-support.js';

let auth: TestBackend;
let backend: TestBackend;
let gw: TestGateway;

beforeAll(async () => {
  auth = await TestBackend.start((req) => {
    const creds = JSON.parse(req.body.toString('utf8')) as { username?: string; password?: string };
    if (creds.username === 'down') return { status: 503, body: 'maintenance' };
    if (creds.username === 'banned') return { status: 403, body: '' };
    if (creds.username === 'carol' && creds.password === 'right') {
      return {
        status: 200,
        body: JSON.stringify({ principal: 'tenant-a/carol', groups: ['a'], attributes: { tenant: 'a' } }),
        headers: { 'content-type': 'application/json' },
      };
    }
    return { status: 401, body: '' };
  });
  backend = await TestBackend.start();
  const delegate = (onError: string) => [{ type: 'http', pool: 'auth', path: '/mqtt/auth', onError, timeoutMs: 2000 }];
  gw = await startGateway({
    listeners: [
      { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth: delegate('deny') },
      { name: 'lenient', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth: delegate('ignore'), anonymous: true },
    ],
    pools: [
      { name: 'auth', endpoints: [{ url: auth.url }], retries: { maxAttempts: 1 } },
      { name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } },
    ],
    routes: [{ match: { address: '#' }, pool: 'be', request: { path: '/{listener}/{address}' } }],
  });
});

afterAll(async () => {
  await gw?.stop();
  await auth?.close();
  await backend?.close();
});

describe('http delegate authenticator', () => {
  it('allows with the identity the service names, and asks once for a reconnect (cache)', async () => {
    const c = await client(gw.port('mqtt'), { protocolVersion: 5, clientId: 'c1', username: 'carol', password: 'right' });
    await c.publishAsync('d/x', 'x', { qos: 1 });
    await c.endAsync();
    expect((await requestFor(backend, '/mqtt/d/x')).headers['x-thinggate-identity']).toBe('tenant-a/carol');
    const asked = auth.requests[0]!;
    expect(asked.url).toBe('/mqtt/auth');
    expect(JSON.parse(asked.body.toString('utf8'))).toMatchObject({ protocol: 'mqtt', listener: 'mqtt', clientId: 'c1', username: 'carol', password: 'right' });
    const n = auth.requests.length;
    expect(await connackCode(gw.port('mqtt'), { protocolVersion: 5, clientId: 'c1', username: 'carol', password: 'right' })).toBe(0);
    expect(auth.requests.length).toBe(n);
  });

  it('denies as the service says: 401 → 0x86 (v3.1.1 0x04), 403 → 0x87', async () => {
    expect(await connackCode(gw.port('mqtt'), { protocolVersion: 5, clientId: 'c2', username: 'carol', password: 'wrong' })).toBe(0x86);
    expect(await connackCode(gw.port('mqtt'), { protocolVersion: 4, clientId: 'c3', username: 'mallory', password: 'x' })).toBe(0x04);
    expect(await connackCode(gw.port('mqtt'), { protocolVersion: 5, clientId: 'c4', username: 'banned', password: 'x' })).toBe(0x87);
  });

  it('a service that is down: onError deny → 0x88 server unavailable; onError ignore → the next step (anonymous here)', async () => {
    expect(await connackCode(gw.port('mqtt'), { protocolVersion: 5, clientId: 'c5', username: 'down', password: 'x' })).toBe(0x88);
    const c = await client(gw.port('lenient'), { protocolVersion: 5, clientId: 'c6', username: 'down', password: 'x' });
    await c.publishAsync('d/anon', 'x', { qos: 1 });
    await c.endAsync();
    expect((await requestFor(backend, '/lenient/d/anon')).headers['x-thinggate-identity']).toBeUndefined();
  });
});

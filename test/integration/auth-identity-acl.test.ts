/**
 * ACL rules that come from authenticators, over real MQTT connections: a
 * credentials-file entry, a JWT claim (keys from a JWKS served by a real
 * server and fetched through a configured pool), the HTTP auth service's
 * answer and a plugin authenticator. Each identity's own rules are tried
 * before the configured ones, then `acl.default: deny`; a token whose rules
 * cannot be read is refused (CONNACK 0x87).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { copyFileSync } from 'node:fs';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TempDir, connackCode, writeUsers } from './auth-support.js';
import { client } from './mqtt-support.js';

const dir = new TempDir();
const { publicKey, privateKey } = await generateKeyPair('ES256');
const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
let idp: TestBackend;
let auth: TestBackend;
let backend: TestBackend;
let gw: TestGateway;

beforeAll(async () => {
  await writeUsers(dir.file('users.json'), {
    alice: {
      password: 'pw-a',
      acl: [
        { allow: ['publish'], address: 'shared/blocked' },
        { allow: ['publish'], address: 'extra/{principal}/#' },
      ],
    },
    bob: { password: 'pw-b' },
  });
  copyFileSync(join(import.meta.dirname, '../fixtures/plugins/shared-token-auth.mjs'), dir.file('shared-token-auth.mjs'));
  idp = await TestBackend.start((req) =>
    req.url === '/.well-known/jwks.json'
      ? { status: 200, body: JSON.stringify({ keys: [jwk] }), headers: { 'content-type': 'application/json' } }
      : { status: 404, body: '' },
  );
  auth = await TestBackend.start(() => ({
    status: 200,
    body: JSON.stringify({ principal: 'carol', acl: [{ allow: ['publish'], address: 'delegated/{principal}' }] }),
    headers: { 'content-type': 'application/json' },
  }));
  backend = await TestBackend.start();
  gw = await startGateway(
    {
      plugins: [{ use: './shared-token-auth.mjs' }],
      listeners: [
        { name: 'pw', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth: [{ type: 'password', file: 'users.json' }] },
        {
          name: 'jwt',
          protocol: 'mqtt',
          host: '127.0.0.1',
          port: 0,
          auth: [{ type: 'jwt', jwks: { pool: 'idp' }, algorithms: ['ES256'], audience: 'thinggate', aclClaim: 'acl' }],
        },
        { name: 'delegate', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth: [{ type: 'http', pool: 'auth' }] },
        {
          name: 'plug',
          protocol: 'mqtt',
          host: '127.0.0.1',
          port: 0,
          auth: [{ type: 'shared-token', tokens: { 'dev-7': 'token-of-dev-7' }, ownPrefix: 'plant' }],
        },
      ],
      pools: [
        { name: 'idp', endpoints: [{ url: idp.url }], retries: { maxAttempts: 1 } },
        { name: 'auth', endpoints: [{ url: auth.url }], retries: { maxAttempts: 1 } },
        { name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } },
      ],
      routes: [{ match: { address: '#' }, pool: 'be', request: { path: '/{listener}/{address}' } }],
      acl: {
        default: 'deny',
        rules: [
          { deny: ['publish'], address: 'shared/blocked' },
          { allow: ['publish'], address: 'telemetry/{principal}/#' },
        ],
      },
    },
    { baseDir: dir.path },
  );
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([idp?.close(), auth?.close(), backend?.close()]);
  dir.remove();
});

/** The PUBACK reason code of a QoS 1 publish: 0 when accepted. */
async function pubackCode(c: import('mqtt').MqttClient, topic: string): Promise<number> {
  return c.publishAsync(topic, 'x', { qos: 1 }).then(
    () => 0,
    (e: { code?: number }) => e.code ?? -1,
  );
}

const token = (sub: string, claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setSubject(sub).setAudience('thinggate').setExpirationTime('5m').sign(privateKey);

describe('ACL rules from authenticators', () => {
  it('credentials file: the user’s rules come first, then the configured ones, then the default', async () => {
    const a = await client(gw.port('pw'), { protocolVersion: 5, clientId: 'alice', username: 'alice', password: 'pw-a' });
    expect(await pubackCode(a, 'shared/blocked')).toBe(0); // alice's own allow precedes the configured deny
    expect(await pubackCode(a, 'extra/alice/1')).toBe(0);
    expect(await pubackCode(a, 'telemetry/alice/1')).toBe(0);
    expect(await pubackCode(a, 'elsewhere/1')).toBe(0x87); // acl.default: deny
    await a.endAsync();
    const b = await client(gw.port('pw'), { protocolVersion: 5, clientId: 'bob', username: 'bob', password: 'pw-b' });
    expect(await pubackCode(b, 'shared/blocked')).toBe(0x87);
    expect(await pubackCode(b, 'extra/alice/1')).toBe(0x87);
    await b.endAsync();
    const urls = backend.requests.map((r) => r.url);
    expect(urls).toEqual(expect.arrayContaining(['/pw/shared/blocked', '/pw/extra/alice/1', '/pw/telemetry/alice/1']));
    expect(urls.filter((u) => u === '/pw/shared/blocked')).toHaveLength(1);
    expect(urls).not.toContain('/pw/elsewhere/1');
  });

  it('JWT claim, with the key from a JWKS fetched through a pool; unreadable rules refuse the token', async () => {
    const c = await client(gw.port('jwt'), {
      protocolVersion: 5,
      clientId: 'j1',
      username: 'x',
      password: await token('dev-j', { acl: [{ allow: ['publish'], address: 'fleet/{principal}/#' }] }),
    });
    expect(await pubackCode(c, 'fleet/dev-j/t')).toBe(0);
    expect(await pubackCode(c, 'fleet/other/t')).toBe(0x87);
    await c.endAsync();
    expect(idp.requests.filter((r) => r.url === '/.well-known/jwks.json').length).toBeGreaterThanOrEqual(1);
    const bad = await token('dev-j', { acl: [{ allow: ['everything'], address: '#' }] });
    expect(await connackCode(gw.port('jwt'), { protocolVersion: 5, clientId: 'j2', username: 'x', password: bad })).toBe(0x87);
  });

  it('the HTTP auth service’s answer', async () => {
    const c = await client(gw.port('delegate'), { protocolVersion: 5, clientId: 'd1', username: 'carol', password: 'any' });
    expect(await pubackCode(c, 'delegated/carol')).toBe(0);
    expect(await pubackCode(c, 'delegated/dave')).toBe(0x87);
    await c.endAsync();
  });

  it('a plugin authenticator, by type name: its rule and its refusal (0x86)', async () => {
    const c = await client(gw.port('plug'), { protocolVersion: 5, clientId: 'p1', username: 'dev-7', password: 'token-of-dev-7' });
    expect(await pubackCode(c, 'plant/dev-7/t')).toBe(0);
    expect(await pubackCode(c, 'plant/dev-8/t')).toBe(0x87);
    await c.endAsync();
    expect(await connackCode(gw.port('plug'), { protocolVersion: 5, clientId: 'p2', username: 'dev-7', password: 'wrong-token' })).toBe(0x86);
    expect(backend.requests.map((r) => r.url)).toContain('/plug/plant/dev-7/t');
  });
});

/**
 * Client certificates (mTLS, certificates made with openssl here) and JWTs
 * (signed here with jose) as credentials, with real clients: mosquitto_pub
 * --cert/--key, MQTT.js over TLS, curl --cert and curl Bearer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { makePki, type Device, type Pki } from '../helpers/pki.js';
import { client } from './mqtt-support.js';
import { connackCode, curlPost, protonSend, run } from './auth-support.js';
import { requestFor as backendRequest } from './auth-support.js';

let pki: Pki;
let backend: TestBackend;
let gw: TestGateway;
let devA: Device;
let devB: Device;
const SECRET = 'hs256-secret-for-thinggate-tests-0123456789';

beforeAll(async () => {
  pki = makePki();
  devA = pki.device('dev-a');
  devB = pki.device('dev-b');
  writeFileSync(`${pki.dir}/hs.key`, SECRET);
  backend = await TestBackend.start();
  const tls = { cert: pki.server.cert, key: pki.server.key, ca: pki.ca, requestCert: true };
  const x509 = [{ type: 'x509' }];
  const jwt = [{ type: 'jwt', keyFile: 'hs.key', algorithms: ['HS256'], audience: 'thinggate', groupsClaim: 'groups' }];
  gw = await startGateway(
    {
      listeners: [
        { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls, auth: x509, clientId: '{principal}' },
        { name: 'pinned', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls, auth: [{ type: 'x509', fingerprints: [devA.fingerprint] }] },
        { name: 'amqps', protocol: 'amqp', host: '127.0.0.1', port: 0, tls, auth: x509 },
        { name: 'https', protocol: 'http', host: '127.0.0.1', port: 0, tls, auth: x509 },
        { name: 'mqtt-jwt', protocol: 'mqtt', host: '127.0.0.1', port: 0, auth: jwt },
        { name: 'web-jwt', protocol: 'http', host: '127.0.0.1', port: 0, auth: jwt },
      ],
      pools: [{ name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
      routes: [{ match: { address: '#' }, pool: 'be', request: { path: '/{listener}/{address}' } }],
    },
    { baseDir: pki.dir },
  );
});

afterAll(async () => {
  await gw?.stop();
  await backend?.close();
  pki?.remove();
});

const requestFor = (path: string) => backendRequest(backend, path);

const token = (sub: string, opts: { aud?: string; exp?: number | string; secret?: string } = {}) =>
  new SignJWT({ groups: ['fleet'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setAudience(opts.aud ?? 'thinggate')
    .setExpirationTime(opts.exp ?? '5m')
    .sign(new TextEncoder().encode(opts.secret ?? SECRET));

describe('x509 client certificates', () => {
  it('mosquitto_pub --cert/--key: the certificate CN is the identity; a certificate of an unknown CA is refused', async () => {
    const port = String(gw.port('mqtts'));
    const common = ['-h', 'localhost', '-p', port, '--cafile', pki.ca, '-q', '1', '-m', 'x'];
    const ok = await run('mosquitto_pub', [...common, '-i', 'dev-a', '--cert', devA.cert, '--key', devA.key, '-t', 'c/mosq']);
    expect(ok.code).toBe(0);
    const r = await requestFor('/mqtts/c/mosq');
    expect(r.headers['x-thinggate-identity']).toBe('dev-a');
    const rogue = pki.device('dev-a', { rogue: true });
    const bad = await run('mosquitto_pub', [...common, '-i', 'dev-a', '--cert', rogue.cert, '--key', rogue.key, '-t', 'c/rogue']);
    expect(bad.code).not.toBe(0);
    const none = await run('mosquitto_pub', [...common, '-i', 'dev-a', '-t', 'c/none']);
    expect(none.code).not.toBe(0);
    expect(backend.requests.map((q) => q.url)).not.toContain('/mqtts/c/rogue');
  });

  it('MQTT.js over TLS: the client id is bound to the certificate principal (0x85 otherwise)', async () => {
    const tlsOpts = { protocol: 'mqtts', host: 'localhost', ca: readFileSync(pki.ca), cert: readFileSync(devA.cert), key: readFileSync(devA.key) };
    const c = await client(gw.port('mqtts'), { ...tlsOpts, protocolVersion: 5, clientId: 'dev-a' } as never);
    await c.endAsync();
    expect(await connackCode(gw.port('mqtts'), { ...tlsOpts, protocolVersion: 5, clientId: 'dev-b' })).toBe(0x85);
  });

  it('fingerprint pinning admits the pinned certificate only (0x87 for another one of the same CA)', async () => {
    const base = { protocol: 'mqtts', host: 'localhost', ca: readFileSync(pki.ca), protocolVersion: 5 };
    expect(await connackCode(gw.port('pinned'), { ...base, cert: readFileSync(devA.cert), key: readFileSync(devA.key), clientId: 'p1' })).toBe(0);
    expect(await connackCode(gw.port('pinned'), { ...base, cert: readFileSync(devB.cert), key: readFileSync(devB.key), clientId: 'p2' })).toBe(0x87);
  });

  it('Qpid Proton with a client certificate over SASL EXTERNAL: the certificate is the identity', async () => {
    const tlsArgs = ['--ca', pki.ca, '--cert', devA.cert, '--key', devA.key, '--mech', 'EXTERNAL', '--container-id', 'dev-a'];
    const ok = await protonSend(`amqps://localhost:${gw.port('amqps')}`, 'c/proton', 1, tlsArgs);
    expect(ok).toMatchObject({ accepted: 1 });
    expect((await requestFor('/amqps/c/proton')).headers['x-thinggate-identity']).toBe('dev-a');
  });

  it('curl --cert: the certificate is the identity', async () => {
    const url = `https://localhost:${gw.port('https')}/ingress/c/curl`;
    const r = await curlPost(url, ['--cacert', pki.ca, '--cert', devB.cert, '--key', devB.key]);
    expect(r.status).toBe(202);
    expect((await requestFor('/https/c/curl')).headers['x-thinggate-identity']).toBe('dev-b');
  });
});

describe('JWT', () => {
  it('MQTT: a token as the password is the identity; an expired or forged one gets 0x86', async () => {
    const c = await client(gw.port('mqtt-jwt'), { protocolVersion: 5, clientId: 'j1', username: 'any', password: await token('dev-j') });
    await c.publishAsync('j/mqtt', 'x', { qos: 1 });
    await c.endAsync();
    expect((await requestFor('/mqtt-jwt/j/mqtt')).headers['x-thinggate-identity']).toBe('dev-j');
    const expired = await token('dev-j', { exp: Math.floor(Date.now() / 1000) - 120 });
    expect(await connackCode(gw.port('mqtt-jwt'), { protocolVersion: 5, clientId: 'j2', username: 'any', password: expired })).toBe(0x86);
    expect(
      await connackCode(gw.port('mqtt-jwt'), {
        protocolVersion: 4,
        clientId: 'j3',
        username: 'any',
        password: await token('x', { secret: 'another-secret-another-secret-another' }),
      }),
    ).toBe(0x04);
    expect(
      await connackCode(gw.port('mqtt-jwt'), { protocolVersion: 5, clientId: 'j4', username: 'any', password: await token('x', { aud: 'elsewhere' }) }),
    ).toBe(0x86);
  });

  it('curl Bearer: 202 with a valid token, 401 with a Bearer challenge otherwise', async () => {
    const url = `http://127.0.0.1:${gw.port('web-jwt')}/ingress/j/http`;
    expect((await curlPost(url, ['-H', `authorization: Bearer ${await token('dev-h')}`])).status).toBe(202);
    expect((await requestFor('/web-jwt/j/http')).headers['x-thinggate-identity']).toBe('dev-h');
    const bad = await curlPost(url, ['-H', `authorization: Bearer ${await token('dev-h', { secret: 'another-secret-another-secret-another' })}`]);
    expect(bad.status).toBe(401);
    expect(bad.headers).toContain('bearer realm="thinggate"');
  });
});

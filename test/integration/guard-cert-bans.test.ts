/**
 * Certificate-fingerprint bans (guard.bans kind certFingerprint), enforced
 * where the listener holds the authenticated TLS session — MQTT CONNECT,
 * HTTP request — never during the handshake. Real clients: mosquitto_pub
 * --cert/--key and curl --cert; one device's certificate is banned, another
 * device of the same CA is served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { makePki, type Device, type Pki } from '../helpers/pki.js';
import { curlPost, run } from './auth-support.js';

let pki: Pki;
let backend: TestBackend;
let gw: TestGateway;
let banned: Device;
let allowed: Device;

beforeAll(async () => {
  pki = makePki();
  banned = pki.device('dev-banned');
  allowed = pki.device('dev-allowed');
  backend = await TestBackend.start();
  const tls = { cert: pki.server.cert, key: pki.server.key, ca: pki.ca, requestCert: true };
  gw = await startGateway(
    {
      listeners: [
        { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls, auth: [{ type: 'x509' }] },
        { name: 'https', protocol: 'http', host: '127.0.0.1', port: 0, tls, auth: [{ type: 'x509' }] },
      ],
      pools: [{ name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
      routes: [{ match: { address: '#' }, pool: 'be', request: { path: '/{listener}/{address}' } }],
      // Written without colons and in lower case: matched as node prints fingerprints.
      guard: { bans: [{ kind: 'certFingerprint', value: banned.fingerprint.replaceAll(':', '').toLowerCase(), reason: 'stolen device key' }] },
    },
    { baseDir: pki.dir },
  );
});

afterAll(async () => {
  await gw?.stop();
  await backend?.close();
  pki?.remove();
});

describe('certificate-fingerprint bans', () => {
  it('mosquitto_pub: the banned certificate is refused at CONNECT (0x8A), another of the same CA publishes', async () => {
    const common = ['-h', 'localhost', '-p', String(gw.port('mqtts')), '--cafile', pki.ca, '-q', '1', '-m', 'x', '-V', 'mqttv5'];
    const refused = await run('mosquitto_pub', [...common, '-i', 'b', '--cert', banned.cert, '--key', banned.key, '-t', 'fp/banned']);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/banned/i);
    const ok = await run('mosquitto_pub', [...common, '-i', 'a', '--cert', allowed.cert, '--key', allowed.key, '-t', 'fp/allowed']);
    expect(ok.code).toBe(0);
    expect(backend.requests.map((q) => q.url)).toContain('/mqtts/fp/allowed');
    expect(backend.requests.map((q) => q.url)).not.toContain('/mqtts/fp/banned');
    expect(gw.logs.some((l) => l.event === 'security' && l.kind === 'banned' && l.listener === 'mqtts')).toBe(true);
  });

  it('curl --cert: the banned certificate gets 403, another 2xx', async () => {
    const url = `https://localhost:${gw.port('https')}/ingress/fp/web`;
    const base = ['--cacert', pki.ca, '--resolve', `localhost:${gw.port('https')}:127.0.0.1`];
    expect((await curlPost(url, [...base, '--cert', banned.cert, '--key', banned.key])).status).toBe(403);
    expect((await curlPost(url, [...base, '--cert', allowed.cert, '--key', allowed.key])).status).toBeLessThan(300);
  });
});

/**
 * Scores and flapping keyed by the client certificate: one certificate
 * behind rotating source addresses (mosquitto_pub -A 127.0.0.N) and client
 * ids is banned by certFingerprint, though no address or client id is.
 */
describe('certificate-fingerprint scoring and flapping', () => {
  let gw2: TestGateway;
  let abuser: Device;
  let flapper: Device;
  let bystander: Device;
  const bansApi = () => `http://127.0.0.1:${gw2.gateway.adminAddress()!.port}/api/v1/bans`;

  beforeAll(async () => {
    abuser = pki.device('dev-abuser');
    flapper = pki.device('dev-flapper');
    bystander = pki.device('dev-bystander');
    const tls = { cert: pki.server.cert, key: pki.server.key, ca: pki.ca, requestCert: true };
    gw2 = await startGateway(
      {
        listeners: [{ name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls, auth: [{ type: 'x509' }] }],
        admin: { host: '127.0.0.1', port: 0 },
        pools: [{ name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
        routes: [{ match: { address: '#' }, pool: 'be', request: { path: '/{listener}/{address}' } }],
        acl: [
          { deny: ['publish'], address: 'forbidden/#' },
          { allow: ['publish'], address: '#' },
        ],
        // Two denials reach the threshold: each address and client id gets one, the certificate (and principal) both.
        guard: { exempt: [], scoring: { weights: { 'acl-denied': 60 }, threshold: 100 }, flapping: { maxConnects: 3 } },
      },
      { baseDir: pki.dir },
    );
  });

  afterAll(async () => {
    await gw2?.stop();
  });

  const pub = (d: Device, from: string, id: string, topic: string) =>
    run('mosquitto_pub', [
      ...['-h', 'localhost', '-p', String(gw2.port('mqtts')), '--cafile', pki.ca, '-q', '1', '-m', 'x', '-V', 'mqttv5'],
      ...['-A', from, '-i', id, '--cert', d.cert, '--key', d.key, '-t', topic],
    ]);

  it('violations from rotating addresses and client ids ban the certificate; another certificate is served', async () => {
    await pub(abuser, '127.0.0.2', 'rot-1', 'forbidden/a');
    await pub(abuser, '127.0.0.3', 'rot-2', 'forbidden/b');
    const bans = (await (await fetch(bansApi())).json()) as Array<{ kind: string; value: string; source: string }>;
    expect(bans).toContainEqual(expect.objectContaining({ kind: 'certFingerprint', value: abuser.fingerprint, source: 'scoring' }));
    // Neither address nor client id reached the threshold.
    expect(bans.filter((b) => b.kind === 'ip' || b.kind === 'clientId')).toEqual([]);
    const refused = await pub(abuser, '127.0.0.4', 'rot-3', 'fine/abuser');
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/banned/i);
    expect((await pub(bystander, '127.0.0.4', 'rot-4', 'fine/bystander')).code).toBe(0);
    const urls = backend.requests.map((q) => q.url);
    expect(urls).toContain('/mqtts/fine/bystander');
    expect(urls).not.toContain('/mqtts/fine/abuser');
  });

  it('connects of one certificate under new client ids and addresses flap: the certificate is banned', async () => {
    for (let i = 1; i <= 3; i++) expect((await pub(flapper, `127.0.1.${i}`, `flap-${i}`, 'fine/flap')).code).toBe(0);
    const fourth = await pub(flapper, '127.0.1.4', 'flap-4', 'fine/flap');
    expect(fourth.stdout + fourth.stderr).toMatch(/banned/i);
    const bans = (await (await fetch(bansApi())).json()) as Array<{ kind: string; value: string; source: string }>;
    expect(bans).toContainEqual(expect.objectContaining({ kind: 'certFingerprint', value: flapper.fingerprint, source: 'flapping' }));
  });
});

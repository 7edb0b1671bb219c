/**
 * TLS policy on listeners, with real clients: mosquitto_pub with a CA file
 * and client certificates (valid, missing, revoked by CRL, expired), curl
 * over HTTPS with an optional client certificate, Qpid Proton over AMQPS, old protocol versions
 * never offered, SNI certificate choice and the expiry metric.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestBackend } from '../helpers/backend.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { run, until, type Run } from '../helpers/run.js';

let pki: Pki;
let backend: TestBackend;
let gw: TestGateway;
let other: { cert: string; key: string };

beforeAll(async () => {
  pki = makePki();
  other = pki.issue('other', 'other.test', 'DNS:other.test');
  backend = await TestBackend.start();
  gw = await startGateway({
    listeners: [
      {
        name: 'mqtts',
        protocol: 'mqtt',
        host: '127.0.0.1',
        port: 0,
        tls: { ...pki.server, ca: pki.ca, crl: pki.crl, clientCert: 'required', expiryWarningDays: 30 },
      },
      { name: 'amqps', protocol: 'amqp', host: '127.0.0.1', port: 0, tls: { ...pki.server, ca: pki.ca, crl: pki.crl, clientCert: 'required', alpn: ['amqp'] } },
      {
        name: 'https',
        protocol: 'http',
        host: '127.0.0.1',
        port: 0,
        tls: { ...pki.server, ca: pki.ca, crl: pki.crl, clientCert: 'optional', certificates: [{ ...other, serverNames: ['other.test'] }], alpn: ['http/1.1'] },
      },
    ],
    pools: [{ name: 'default', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
    routes: [{ match: { address: '#' }, pool: 'default' }],
  });
});
afterAll(async () => {
  await gw?.stop();
  await backend?.close();
  pki?.remove();
});

const pub = (topic: string, extra: string[]): Promise<Run> =>
  run('mosquitto_pub', [
    '-h',
    '127.0.0.1',
    '-p',
    String(gw.port('mqtts')),
    '-V',
    'mqttv5',
    '-q',
    '1',
    '-t',
    topic,
    '-m',
    'hello',
    '--cafile',
    pki.ca,
    ...extra,
  ]);

const PROTON_SEND = fileURLToPath(new URL('../interop/python/proton_tls_send.py', import.meta.url));

const failures = (listener: string): Array<Record<string, unknown>> => gw.logs.filter((l) => l.listener === listener && l.kind === 'tls-handshake-failure');

describe('client certificates (mosquitto_pub)', () => {
  it('accepts a device certificate issued by the CA', async () => {
    const before = backend.requests.length;
    const r = await pub('tls/ok', ['--cert', pki.client.cert, '--key', pki.client.key]);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
    await backend.waitFor(before + 1);
    expect(backend.requests.at(-1)!.url).toBe('/messages/tls/ok');
  });

  it.each([
    ['no certificate', [] as string[], /client certificate missing/],
    ['a revoked certificate (CRL)', ['revoked'], /client certificate revoked \(CERT_REVOKED\)/],
    ['an expired certificate', ['expired'], /client certificate expired \(CERT_HAS_EXPIRED\)/],
  ])('refuses %s and reports why', async (_what, which, reason) => {
    const before = backend.requests.length;
    const seen = failures('mqtts').length;
    const pair = which[0] === 'revoked' ? pki.revoked : which[0] === 'expired' ? pki.expired : undefined;
    const r = await pub('tls/refused', pair ? ['--cert', pair.cert, '--key', pair.key] : []);
    expect(r.code).not.toBe(0);
    await until(() => failures('mqtts').length > seen);
    expect(String(failures('mqtts').at(-1)!.detail)).toMatch(reason);
    expect(backend.requests.length).toBe(before);
  });
});

describe('AMQPS (Qpid Proton)', () => {
  const send = (pair?: { cert: string; key: string }): Promise<Run> =>
    run('/usr/bin/python3', [PROTON_SEND, String(gw.port('amqps')), pki.ca, ...(pair ? [pair.cert, pair.key] : [])], 15_000);

  it('delivers from a client with a valid certificate and refuses a revoked one', async () => {
    const before = backend.requests.length;
    const ok = await send(pki.client);
    expect(ok.out.trim()).toBe('accepted');
    await backend.waitFor(before + 1);
    expect(backend.requests.at(-1)!.url).toBe('/messages/tls/amqp');
    const seen = failures('amqps').length;
    expect((await send(pki.revoked)).code).not.toBe(0);
    await until(() => failures('amqps').length > seen);
    expect(String(failures('amqps').at(-1)!.detail)).toMatch(/client certificate revoked/);
    expect(backend.requests.length).toBe(before + 1);
  });
});

describe('protocol versions', () => {
  it.each(['-tls1', '-tls1_1'])('never offers %s', async (flag) => {
    const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${gw.port('https')}`, flag, '-CAfile', pki.ca], 5000);
    expect(r.code).not.toBe(0);
    // Refused by the server (alert 70) or not even attempted by the local OpenSSL: never negotiated.
    expect(r.out).toMatch(/alert protocol version|no protocols available/);
    expect(r.out).toMatch(/Cipher is \(NONE\)|no protocols available/);
  });
});

describe('HTTPS (curl)', () => {
  const curl = (extra: string[], host = '127.0.0.1'): Promise<Run> =>
    run('curl', [
      '-sS',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--cacert',
      pki.ca,
      ...extra,
      '-X',
      'POST',
      '--data',
      'x',
      `https://${host}:${gw.port('https')}/ingress/dev`,
    ]);

  it('serves a client without a certificate when client certificates are optional', async () => {
    const r = await curl([]);
    expect(r.out).toMatch(/^2\d\d$/);
  });

  it('serves a client with a valid certificate and refuses a revoked one', async () => {
    expect((await curl(['--cert', pki.client.cert, '--key', pki.client.key])).out).toMatch(/^2\d\d$/);
    const seen = failures('https').length;
    const bad = await curl(['--cert', pki.revoked.cert, '--key', pki.revoked.key]);
    expect(bad.code).not.toBe(0);
    await until(() => failures('https').length > seen);
    expect(String(failures('https').at(-1)!.detail)).toMatch(/revoked/);
  });

  it("refuses a client whose ALPN offer has none of the listener's protocols", async () => {
    const seen = failures('https').length;
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: gw.port('https'), servername: 'localhost', ca: [readFileSync(pki.ca)], ALPNProtocols: ['mqtt'] }, () =>
        resolve(new Error('connected')),
      );
      s.on('error', resolve);
    });
    expect(err.code).toBe('ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL');
    await until(() => failures('https').length > seen);
    expect(String(failures('https').at(-1)!.detail)).toMatch(/^no common ALPN protocol/);
  });

  it('chooses the certificate by SNI', async () => {
    const subjectFor = (servername: string): Promise<PeerCertificate> =>
      new Promise((resolve, reject) => {
        const s = tlsConnect({ host: '127.0.0.1', port: gw.port('https'), servername, ca: pki.ca, rejectUnauthorized: false }, () => {
          resolve(s.getPeerCertificate());
          s.end();
        });
        s.on('error', reject);
      });
    expect((await subjectFor('other.test')).subject.CN).toBe('other.test');
    expect((await subjectFor('localhost')).subject.CN).toBe('localhost');
  });
});

describe('certificate expiry', () => {
  it('gives each server certificate its seconds to expiry and warns within the window', async () => {
    const metric = gw.gateway.metrics.registry.getSingleMetric('thinggate_tls_certificate_expiry_seconds')!;
    const values = (await metric.get()).values.filter((v) => v.labels.listener === 'mqtts');
    expect(values).toHaveLength(1);
    expect(values[0]!.labels.certificate).toBe(pki.server.cert);
    expect(values[0]!.value).toBeGreaterThan(86_400);
    expect(values[0]!.value).toBeLessThanOrEqual(2 * 86_400);
    expect(gw.logs.some((l) => l.listener === 'mqtts' && l.certificate === pki.server.cert && /TLS certificate expires in/.test(String(l.msg)))).toBe(true);
    // The default window (14 days) covers a two-day certificate too.
    expect(gw.logs.some((l) => l.listener === 'https' && /TLS certificate expires in/.test(String(l.msg)))).toBe(true);
  });
});

/**
 * Reload of TLS material: a certificate replaced on disk is served to the
 * next client while a connected one stays connected; a bad file is refused
 * (logged with its path) and the running certificate stays; SIGHUP's reload
 * (Gateway.reload) re-reads the files of listeners it keeps.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestBackend } from '../helpers/backend.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { parseConfig } from '../../src/config/load.js';
import { until } from '../helpers/run.js';

let pki: Pki;
let backend: TestBackend;
let gw: TestGateway;
let cert: string;
let key: string;
let manual: { cert: string; key: string };

const config = (): unknown => ({
  listeners: [
    { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls: { cert, key } },
    { name: 'unwatched', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls: { cert: manual.cert, key: manual.key, watch: false } },
  ],
  pools: [{ name: 'default', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
  routes: [{ match: { address: '#' }, pool: 'default' }],
});

beforeAll(async () => {
  pki = makePki();
  cert = join(pki.dir, 'live.crt');
  key = join(pki.dir, 'live.key');
  copyFileSync(pki.server.cert, cert);
  copyFileSync(pki.server.key, key);
  manual = { cert: join(pki.dir, 'manual.crt'), key: join(pki.dir, 'manual.key') };
  copyFileSync(pki.server.cert, manual.cert);
  copyFileSync(pki.server.key, manual.key);
  backend = await TestBackend.start();
  gw = await startGateway(config());
});
afterAll(async () => {
  await gw?.stop();
  await backend?.close();
  pki?.remove();
});

/** The CN of the certificate a new client is served. */
function servedCn(listener = 'mqtts'): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: gw.port(listener), servername: 'localhost', rejectUnauthorized: false }, () => {
      resolve(String(s.getPeerCertificate().subject.CN));
      s.end();
    });
    s.on('error', reject);
  });
}

const reloaded = (): number => gw.logs.filter((l) => /^TLS material reloaded/.test(String(l.msg))).length;

it('serves a certificate replaced on disk to the next client and keeps the connected one', async () => {
  const device = await mqtt.connectAsync(`mqtts://127.0.0.1:${gw.port('mqtts')}`, { rejectUnauthorized: false, reconnectPeriod: 0, protocolVersion: 5 });
  try {
    expect(await servedCn()).toBe('localhost');
    const next = pki.issue('renewed', 'renewed.localhost', 'DNS:localhost');
    const before = reloaded();
    copyFileSync(next.key, key);
    copyFileSync(next.cert, cert);
    await until(() => reloaded() > before);
    expect(await servedCn()).toBe('renewed.localhost');
    // The established connection was never dropped and still carries messages.
    expect(device.connected).toBe(true);
    const n = backend.requests.length;
    await device.publishAsync('after/reload', 'x', { qos: 1 });
    await backend.waitFor(n + 1);
  } finally {
    await device.endAsync();
  }
});

it('refuses a bad file, logs its path and keeps serving the running certificate', async () => {
  const running = await servedCn();
  writeFileSync(cert, 'not a certificate');
  await until(() => gw.logs.some((l) => l.level === 50 && String(l.msg).includes('TLS material not reloaded') && String(l.msg).includes(cert)));
  expect(await servedCn()).toBe(running);
});

it('re-reads the files of a kept listener on a configuration reload (SIGHUP)', async () => {
  const third = pki.issue('third', 'third.localhost', 'DNS:localhost');
  // `watch: false`: only the reload itself can pick the new files up.
  copyFileSync(third.key, manual.key);
  copyFileSync(third.cert, manual.cert);
  await new Promise((r) => setTimeout(r, 800));
  expect(await servedCn('unwatched')).toBe('localhost');
  await gw.gateway.reload(parseConfig(config(), { source: '<test>' }));
  expect(await servedCn('unwatched')).toBe('third.localhost');
});

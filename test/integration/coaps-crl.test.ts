/**
 * Revocation in coaps certificate mode (`dtls.crl`), with openssl's DTLS
 * client: a revoked certificate fails the handshake, and a session made
 * before its certificate was revoked is judged again on resumption (a full
 * handshake, refused) once the CRL is reloaded.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { parseConfig } from '../../src/config/load.js';
import { until } from '../helpers/run.js';
import { dtlsHandshake, freeUdpPort } from '../helpers/dtls-client.js';

let gw: TestGateway;
let pki: Pki;
let dir: string;
let port = 0;

function config(): unknown {
  return {
    listeners: [
      {
        name: 'coaps',
        protocol: 'coap',
        host: '127.0.0.1',
        port,
        dtls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca, crl: pki.crl },
      },
    ],
    pools: [{ name: 'be', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
    routes: [{ match: { address: '#' }, pool: 'be' }],
  };
}

beforeAll(async () => {
  pki = makePki();
  dir = mkdtempSync(join(tmpdir(), 'tg-dtls-crl-'));
  // A fixed port, so that the reloaded configuration equals the first and the listener is kept.
  port = await freeUdpPort();
  gw = await startGateway(config());
});
afterAll(async () => {
  await gw?.stop();
  pki?.remove();
  rmSync(dir, { recursive: true, force: true });
});

/** One certificate-mode handshake with `pair`. */
function handshake(pair: { cert: string; key: string }, session: { out?: string; in?: string }): Promise<string> {
  return dtlsHandshake(port, ['-cert', pair.cert, '-key', pair.key, '-CAfile', pki.ca, '-cipher', 'ECDHE-ECDSA-AES128-CCM8'], session);
}

const refusals = (reason: string): number => gw.logs.filter((l) => l.kind === 'tls-handshake-failure' && String(l.detail).includes(reason)).length;

it('refuses a certificate the CRL revokes, and accepts one it does not', async () => {
  expect(await handshake(pki.client, {})).toBe('New');
  await handshake(pki.revoked, {});
  await until(() => refusals('client certificate revoked') === 1);
});

it('a session whose certificate is revoked after it was made does not resume once the CRL is reloaded', async () => {
  const device = pki.device('sensor-crl');
  const file = join(dir, 'sess.pem');
  expect(await handshake(device, { out: file })).toBe('New');
  // It resumes while the certificate stands: what follows is the revocation's doing.
  expect(await handshake(device, { in: file })).toBe('Reused');
  pki.revoke(device.cert);
  await gw.gateway.reload(parseConfig(config(), { source: '<test>' }));
  expect(gw.logs.some((l) => String(l.msg).startsWith('listener configuration changed'))).toBe(false);
  const before = refusals('client certificate revoked');
  expect(await handshake(device, { in: file })).not.toBe('Reused');
  // The full handshake it got instead refused the certificate.
  await until(() => refusals('client certificate revoked') === before + 1);
  // Others of the same CA still get in.
  expect(await handshake(pki.client, {})).toBe('New');
});

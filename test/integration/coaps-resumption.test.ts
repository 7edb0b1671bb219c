/**
 * DTLS session resumption by session id (RFC 5246 §7.3) on a coaps
 * listener, with openssl's DTLS client: a second connection offering the
 * first one's session gets the abbreviated handshake; a listener without a
 * session cache, or a session id it does not hold, gets a full one. A PSK
 * changed in its key file and reloaded ends the resumption of sessions made
 * with the old key.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { parseConfig } from '../../src/config/load.js';
import { until } from '../helpers/run.js';
import { dtlsHandshake, freeUdpPort } from '../helpers/dtls-client.js';

let gw: TestGateway;
let dir: string;

let keyFile: string;
let rotatingPort = 0;

/** The gateway's configuration; `rotating` keeps its port across reloads (the listener is kept). */
function config(): unknown {
  const psk = { psk: [{ identity: 'dev', key: 'k1' }] };
  return {
    listeners: [
      { name: 'coaps', protocol: 'coap', host: '127.0.0.1', port: 0, dtls: psk },
      { name: 'nocache', protocol: 'coap', host: '127.0.0.1', port: 0, dtls: { ...psk, sessionCacheSize: 0 } },
      { name: 'rotating', protocol: 'coap', host: '127.0.0.1', port: rotatingPort, dtls: { psk: [{ identity: 'dev', keyFile }] } },
    ],
    pools: [{ name: 'be', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
    routes: [{ match: { address: '#' }, pool: 'be' }],
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-dtls-resume-'));
  keyFile = join(dir, 'dev.key');
  writeFileSync(keyFile, 'old-key\n');
  rotatingPort = await freeUdpPort();
  gw = await startGateway(config());
});
afterAll(async () => {
  await gw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** One PSK handshake as `dev` (key `k1` unless given). */
function handshake(port: number, session: { out?: string; in?: string; key?: string }): Promise<string> {
  const key = Buffer.from(session.key ?? 'k1').toString('hex');
  return dtlsHandshake(port, ['-psk_identity', 'dev', '-psk', key, '-cipher', 'PSK-AES128-CCM8'], session);
}

it('resumes a session by its id with the abbreviated handshake', async () => {
  const file = join(dir, 'sess.pem');
  expect(await handshake(gw.port('coaps'), { out: file })).toBe('New');
  expect(await handshake(gw.port('coaps'), { in: file })).toBe('Reused');
  expect(await handshake(gw.port('coaps'), { in: file })).toBe('Reused');
});

it('gives a full handshake where it cannot resume: a session it does not hold, or no cache', async () => {
  const issued = join(dir, 'sess-other.pem');
  expect(await handshake(gw.port('coaps'), { out: issued })).toBe('New');
  // The no-cache listener never holds a session: the one offered gets a full handshake…
  expect(await handshake(gw.port('nocache'), { in: issued })).toBe('New');
  // …and it issues none (an empty session id: openssl has nothing to save).
  const none = join(dir, 'sess-nocache.pem');
  expect(await handshake(gw.port('nocache'), { out: none })).toBe('New');
  expect(existsSync(none)).toBe(false);
});

it('a PSK changed in its key file and reloaded ends resumption: the old key neither resumes nor handshakes', async () => {
  const file = join(dir, 'sess-rotating.pem');
  expect(await handshake(rotatingPort, { out: file, key: 'old-key' })).toBe('New');
  // The session resumes while the key stands: what follows is the key change's doing.
  expect(await handshake(rotatingPort, { in: file, key: 'old-key' })).toBe('Reused');
  writeFileSync(keyFile, 'new-key\n');
  // The listener's configuration is unchanged, so it is kept and only its files are read again.
  await gw.gateway.reload(parseConfig(config(), { source: '<test>' }));
  expect(gw.logs.some((l) => String(l.msg).startsWith('listener configuration changed') && l.listener === 'rotating')).toBe(false);
  expect(gw.logs.some((l) => String(l.msg).startsWith('DTLS material reloaded') && l.listener === 'rotating')).toBe(true);
  // The cached session was made with the old key: no abbreviated handshake, and the full one fails with the old key.
  const wrongKey = (): number => gw.logs.filter((l) => l.listener === 'rotating' && String(l.detail).includes("wrong PSK for identity 'dev'")).length;
  expect(wrongKey()).toBe(0);
  expect(await handshake(rotatingPort, { in: file, key: 'old-key' })).not.toBe('Reused');
  // openssl may print its session line before the server's alert: the server's refusal is the evidence.
  await until(() => wrongKey() === 1);
  // The new key gets a full handshake, even offering the old session.
  expect(await handshake(rotatingPort, { in: file, key: 'new-key' })).toBe('New');
});

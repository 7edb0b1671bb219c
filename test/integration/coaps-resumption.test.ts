/**
 * DTLS session resumption by session id (RFC 5246 §7.3) on a coaps
 * listener, with openssl's DTLS client: a second connection offering the
 * first one's session gets the abbreviated handshake; a listener without a
 * session cache, or a session id it does not hold, gets a full one.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-dtls-resume-'));
  const psk = { psk: [{ identity: 'dev', key: 'k1' }] };
  gw = await startGateway({
    listeners: [
      { name: 'coaps', protocol: 'coap', host: '127.0.0.1', port: 0, dtls: psk },
      { name: 'nocache', protocol: 'coap', host: '127.0.0.1', port: 0, dtls: { ...psk, sessionCacheSize: 0 } },
    ],
    pools: [{ name: 'be', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
    routes: [{ match: { address: '#' }, pool: 'be' }],
  });
});
afterAll(async () => {
  await gw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** One openssl DTLS 1.2 PSK handshake; resolves with 'New' or 'Reused' once it is done (stdin held open until then). */
function handshake(port: number, session: { out?: string; in?: string }): Promise<string> {
  const args = ['s_client', '-dtls1_2', '-psk_identity', 'dev', '-psk', Buffer.from('k1').toString('hex'), '-cipher', 'PSK-AES128-CCM8'];
  args.push('-connect', `127.0.0.1:${port}`);
  if (session.out) args.push('-sess_out', session.out);
  if (session.in) args.push('-sess_in', session.in);
  const p = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      p.kill();
      reject(new Error(`no handshake (${args.join(' ')}): ${out} ${err}`));
    }, 20_000);
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^(New|Reused), TLSv1\.2, Cipher is PSK-AES128-CCM8/m.exec(out);
      if (m) {
        clearTimeout(timer);
        p.stdin.end();
        p.on('close', () => resolve(m[1]!));
      }
    });
  });
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

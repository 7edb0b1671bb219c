/**
 * CoAP over DTLS 1.2 (coaps) with libcoap's OpenSSL client: PSK and
 * certificate mode, block-wise transfer and observe over DTLS, and the
 * handshakes that must fail (wrong PSK, unknown identity, untrusted
 * certificate). coap-client exits 0 even when the handshake fails, so the
 * tests assert on what it prints and on what reached the back-end.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { ScriptDir } from '../unit/scripting/support.js';

const CLIENT = '/usr/bin/coap-client-openssl';
if (!existsSync(CLIENT)) throw new Error('coap-client-openssl not found: install libcoap3-bin');

interface Run {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs coap-client-openssl asynchronously (the gateway shares this event loop) with a hard timeout. */
function coaps(args: string[], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(CLIENT, args, { timeout: timeoutMs, encoding: 'utf8' }, (_err, stdout, stderr) => resolve({ stdout, stderr }));
  });
}

const BIG = Buffer.from('dtls-block2:'.repeat(250)); // 3000 bytes
const scripts = new ScriptDir();
let backend: TestBackend;
let gw: TestGateway;
let pki: Pki;
let psk: string;
let cert: string;

beforeAll(async () => {
  pki = makePki();
  writeFileSync(join(scripts.path, 'dev2.key'), 'key-from-file\n');
  scripts.write(
    'inspect.js',
    `export function onMessage(msg) {
    return route('be', { path: '/inspected', headers: { 'x-tls': JSON.stringify(msg.tls ?? null), 'x-principal': msg.identity ? msg.identity.principal : '' } });
  }`,
  );
  backend = await TestBackend.start((req) => {
    if (req.url.startsWith('/r/big')) return { status: 200, body: BIG, headers: { 'content-type': 'text/plain' } };
    return { status: 200, body: `got ${req.body.length} bytes`, headers: { 'content-type': 'text/plain' } };
  });
  const coap = { requestsPerSecond: 1000, burst: 1000 };
  gw = await startGateway(
    {
      listeners: [
        {
          name: 'coaps-psk',
          protocol: 'coap',
          host: '127.0.0.1',
          port: 0,
          coap,
          dtls: {
            psk: [
              { identity: 'dev1', key: 'secret-1' },
              { identity: 'dev2', keyFile: 'dev2.key' },
            ],
          },
        },
        {
          name: 'coaps-cert',
          protocol: 'coap',
          host: '127.0.0.1',
          port: 0,
          coap,
          dtls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.ca },
          auth: [{ type: 'x509' }],
        },
      ],
      pools: [{ name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
      routes: [
        { match: { address: 'devices/#' }, target: 'devices' },
        { match: { address: 'inspect/#' }, script: 'inspect.js' },
        { match: { address: '#' }, pool: 'be', request: { method: 'POST', path: '/r/{address}', reply: true } },
      ],
      scripts: { watch: false },
    },
    { baseDir: scripts.path },
  );
  psk = `coaps://127.0.0.1:${gw.port('coaps-psk')}`;
  cert = `coaps://127.0.0.1:${gw.port('coaps-cert')}`;
});

afterAll(async () => {
  await gw?.stop();
  await backend?.close();
  pki?.remove();
  scripts.remove();
});

const inspected = (): { tls: Record<string, unknown>; principal: string } => {
  const r = backend.requests.filter((q) => q.url === '/inspected').at(-1)!;
  return { tls: JSON.parse(String(r.headers['x-tls'])) as Record<string, unknown>, principal: String(r.headers['x-principal']) };
};

describe('coaps with a pre-shared key (coap-client-openssl -u -k)', () => {
  it('POST over DTLS: the back-end gets the payload, the client prints the reply', async () => {
    const r = await coaps(['-u', 'dev1', '-k', 'secret-1', '-m', 'post', '-e', 'hello', `${psk}/sensors/psk`]);
    expect(r.stdout).toContain('got 5 bytes');
    expect(backend.requests.find((q) => q.url === '/r/sensors/psk')!.body.toString()).toBe('hello');
  });

  it('puts the handshake facts on the envelope and the PSK identity as principal', async () => {
    const seen = backend.requests.length;
    await coaps(['-u', 'dev2', '-k', 'key-from-file', '-m', 'post', '-e', 'x', `${psk}/inspect/me`]);
    expect(backend.requests.slice(seen).map((q) => q.url)).toEqual(['/inspected']);
    const { tls, principal } = inspected();
    expect(tls).toMatchObject({ version: 'DTLSv1.2', cipher: 'PSK-AES128-CCM8', pskIdentity: 'dev2', resumed: false });
    expect(principal).toBe('dev2');
  });

  it('Block1 upload and Block2 download over DTLS', async () => {
    const file = join(scripts.path, 'upload.bin');
    const body = Buffer.from('0123456789'.repeat(250));
    writeFileSync(file, body);
    const up = await coaps(['-u', 'dev1', '-k', 'secret-1', '-m', 'put', '-b', '64', '-f', file, `${psk}/upload/file`]);
    expect(up.stdout).toContain('got 2500 bytes');
    const got = backend.requests.filter((q) => q.url === '/r/upload/file');
    expect(got).toHaveLength(1);
    expect(got[0]!.body.equals(body)).toBe(true);
    const down = await coaps(['-u', 'dev1', '-k', 'secret-1', '-m', 'get', '-b', '128', `${psk}/big`]);
    expect(down.stdout.trimEnd()).toBe(BIG.toString());
  });

  it('observe over DTLS: CON and NON notifications reach the client', async () => {
    const before = gw.gateway.devices.connectedCount;
    const run = coaps(['-u', 'dev1', '-k', 'secret-1', '-s', '3', '-B', '6', `${psk}/devices/dtls1/cmd`]);
    await vi.waitFor(() => expect(gw.gateway.devices.connectedCount).toBe(before + 1), { timeout: 8000, interval: 20 });
    expect(gw.gateway.devices.publish({ topic: 'devices/dtls1/cmd', payload: Buffer.from('[first]'), qos: 1, retain: false }).delivered).toBe(1);
    expect(gw.gateway.devices.publish({ topic: 'devices/dtls1/cmd', payload: Buffer.from('[second]'), qos: 0, retain: false }).delivered).toBe(1);
    const r = await run;
    expect(r.stdout).toContain('[first]');
    expect(r.stdout).toContain('[second]');
    await vi.waitFor(() => expect(gw.gateway.devices.connectedCount).toBe(before), { timeout: 5000, interval: 20 });
  });

  it('a wrong PSK fails the handshake: nothing reaches the back-end, a security event names it', async () => {
    const before = await gw.guardEvents('tls-handshake-failure', 'coaps-psk');
    const r = await coaps(['-u', 'dev1', '-k', 'not-the-key', '-m', 'post', '-e', 'x', `${psk}/sensors/wrong`]);
    expect(r.stdout).not.toContain('got');
    expect(r.stdout + r.stderr).toMatch(/alert/i);
    expect(backend.requests.some((q) => q.url === '/r/sensors/wrong')).toBe(false);
    expect(await gw.guardEvents('tls-handshake-failure', 'coaps-psk')).toBe(before + 1);
    expect(gw.logs.some((l) => String(l.detail).includes("wrong PSK for identity 'dev1'"))).toBe(true);
  });

  it('an unknown identity fails the same way', async () => {
    const r = await coaps(['-u', 'nobody', '-k', 'secret-1', '-m', 'post', '-e', 'x', `${psk}/sensors/unknown`]);
    expect(r.stdout).not.toContain('got');
    expect(backend.requests.some((q) => q.url === '/r/sensors/unknown')).toBe(false);
    expect(gw.logs.some((l) => String(l.detail).includes("unknown PSK identity 'nobody'"))).toBe(true);
  });
});

describe('coaps with certificates (coap-client-openssl -c -j -C)', () => {
  it('verifies the client certificate; the x509 authenticator takes its CN as principal', async () => {
    const c = pki.client('sensor-7');
    const seen = backend.requests.length;
    await coaps(['-c', c.cert, '-j', c.key, '-C', pki.ca, '-m', 'post', '-e', 'cert', `${cert}/inspect/cert`]);
    expect(backend.requests.slice(seen).map((q) => q.url)).toEqual(['/inspected']);
    const { tls, principal } = inspected();
    expect(tls).toMatchObject({ version: 'DTLSv1.2', cipher: 'ECDHE-ECDSA-AES128-CCM8', authorized: true, peerVerified: true, peerCommonName: 'sensor-7' });
    expect((tls.peer as { subject: string; fingerprint256: string }).fingerprint256).toBe(c.fingerprint);
    expect(principal).toBe('sensor-7');
  });

  it('Block2 download and observe in certificate mode', async () => {
    const c = pki.client('sensor-8');
    const down = await coaps(['-c', c.cert, '-j', c.key, '-C', pki.ca, '-m', 'get', '-b', '256', `${cert}/big`]);
    expect(down.stdout.trimEnd()).toBe(BIG.toString());
    const before = gw.gateway.devices.connectedCount;
    const run = coaps(['-c', c.cert, '-j', c.key, '-C', pki.ca, '-s', '2', '-B', '5', `${cert}/devices/dtls2/cmd`]);
    await vi.waitFor(() => expect(gw.gateway.devices.connectedCount).toBe(before + 1), { timeout: 8000, interval: 20 });
    expect(gw.gateway.devices.publish({ topic: 'devices/dtls2/cmd', payload: Buffer.from('[cmd]'), qos: 1, retain: false }).delivered).toBe(1);
    expect((await run).stdout).toContain('[cmd]');
  });

  it('an untrusted client certificate fails the handshake (unknown CA)', async () => {
    const rogue = pki.client('intruder', { rogue: true });
    const r = await coaps(['-c', rogue.cert, '-j', rogue.key, '-C', pki.ca, '-m', 'post', '-e', 'x', `${cert}/sensors/rogue`]);
    expect(r.stdout).not.toContain('got');
    expect(r.stdout + r.stderr).toMatch(/unknown ca/i);
    expect(backend.requests.some((q) => q.url === '/r/sensors/rogue')).toBe(false);
    expect(gw.logs.some((l) => String(l.detail).includes('client certificate from an unknown CA'))).toBe(true);
  });
});

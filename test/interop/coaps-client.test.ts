/**
 * CoAP over DTLS 1.2 (coaps) with libcoap's OpenSSL client: PSK and
 * certificate mode, block-wise transfer and observe over DTLS, and the
 * handshakes that must fail (wrong PSK, unknown identity, untrusted
 * certificate). coap-client exits 0 even when the handshake fails, so the
 * tests assert on what it prints and on what reached the back-end.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { createSocket, type RemoteInfo } from 'node:dgram';
import { join } from 'node:path';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { ScriptDir } from '../unit/scripting/support.js';

// Each test runs external clients that retransmit on their own timers: allow for a loaded host.
vi.setConfig({ testTimeout: 60_000 });

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

/**
 * openssl s_client over DTLS 1.2 with one cipher suite forced (coap-client picks its own):
 * sends one CoAP datagram once connected, then closes (close_notify on end of input).
 */
function sClient(args: string[], datagram: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('openssl', ['s_client', '-dtls1_2', '-connect', `127.0.0.1:${args.shift()}`, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('latin1')));
    child.stdin.write(datagram);
    const ending = setTimeout(() => child.stdin.end(), 1500);
    const kill = setTimeout(() => child.kill(), 10_000);
    child.on('exit', () => {
      clearTimeout(ending);
      clearTimeout(kill);
      resolve(out);
    });
  });
}

/** CoAP CON GET /inspect/<leaf> (RFC 7252 §3): header, Uri-Path options. */
function coapGet(leaf: string): Buffer {
  return Buffer.concat([Buffer.from([0x40, 0x01, 0x12, 0x34, 0xb7]), Buffer.from('inspect'), Buffer.from([leaf.length]), Buffer.from(leaf)]);
}

/**
 * A UDP relay to `port` that sends every client datagram twice, the copy
 * 20 ms later: replayed DTLS records (RFC 6347 §4.1.2.6) and repeated flights.
 */
async function duplicatingRelay(port: number): Promise<{ port: number; close(): void }> {
  const front = createSocket('udp4');
  let closed = false;
  const backs = new Map<string, ReturnType<typeof createSocket>>();
  front.on('message', (msg: Buffer, from: RemoteInfo) => {
    const key = `${from.address}:${from.port}`;
    let back = backs.get(key);
    if (!back) {
      const b = createSocket('udp4');
      b.on('message', (reply: Buffer) => front.send(reply, from.port, from.address));
      b.bind(0, '127.0.0.1');
      backs.set(key, b);
      back = b;
    }
    back.send(msg, port, '127.0.0.1');
    setTimeout(() => {
      if (!closed) back.send(msg, port, '127.0.0.1');
    }, 20);
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', r));
  return {
    port: front.address().port,
    close: () => {
      closed = true;
      front.close();
      for (const b of backs.values()) b.close();
    },
  };
}

async function coapEvents(listener: string, event: string): Promise<number> {
  const metric = gw.gateway.metrics.registry.getSingleMetric('thinggate_downstream_coap_events_total');
  const values = metric ? (await metric.get()).values : [];
  return values.filter((v) => v.labels.listener === listener && v.labels.event === event).reduce((n, v) => n + v.value, 0);
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
          name: 'coaps-small',
          protocol: 'coap',
          host: '127.0.0.1',
          port: 0,
          coap,
          dtls: { cert: pki.server.cert, key: pki.server.key, mtu: 300 },
        },
        {
          name: 'coaps-cert',
          protocol: 'coap',
          host: '127.0.0.1',
          port: 0,
          coap,
          dtls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca },
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
    // Under load the script route can take long: wait for its request rather than assume it.
    await vi.waitFor(() => expect(backend.requests.slice(seen).map((q) => q.url)).toEqual(['/inspected']), { timeout: 20_000, interval: 50 });
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

  it('replayed records are dropped by the anti-replay window before CoAP sees them', async () => {
    const relay = await duplicatingRelay(gw.port('coaps-psk'));
    try {
      const duplicates = await coapEvents('coaps-psk', 'duplicate');
      const seen = backend.requests.filter((q) => q.url === '/r/sensors/replayed').length;
      const r = await coaps(['-u', 'dev1', '-k', 'secret-1', '-m', 'post', '-e', 'once', `coaps://127.0.0.1:${relay.port}/sensors/replayed`]);
      expect(r.stdout).toContain('got 4 bytes');
      await new Promise((res) => setTimeout(res, 100));
      expect(backend.requests.filter((q) => q.url === '/r/sensors/replayed').length).toBe(seen + 1);
      // Without the window the copy would reach CoAP deduplication (RFC 7252 §4.5) and count there.
      expect(await coapEvents('coaps-psk', 'duplicate')).toBe(duplicates);
    } finally {
      relay.close();
    }
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
    const c = pki.device('sensor-7');
    const seen = backend.requests.length;
    await coaps(['-c', c.cert, '-j', c.key, '-C', pki.ca, '-m', 'post', '-e', 'cert', `${cert}/inspect/cert`]);
    // Under load the script route can take long: wait for its request rather than assume it.
    await vi.waitFor(() => expect(backend.requests.slice(seen).map((q) => q.url)).toEqual(['/inspected']), { timeout: 20_000, interval: 50 });
    const { tls, principal } = inspected();
    expect(tls).toMatchObject({ version: 'DTLSv1.2', cipher: 'ECDHE-ECDSA-AES128-CCM8', authorized: true, peerVerified: true, peerCommonName: 'sensor-7' });
    expect((tls.peer as { subject: string; fingerprint256: string }).fingerprint256).toBe(c.fingerprint);
    expect(principal).toBe('sensor-7');
  });

  it('Block2 download and observe in certificate mode', async () => {
    const c = pki.device('sensor-8');
    const down = await coaps(['-c', c.cert, '-j', c.key, '-C', pki.ca, '-m', 'get', '-b', '256', `${cert}/big`]);
    expect(down.stdout.trimEnd()).toBe(BIG.toString());
    const before = gw.gateway.devices.connectedCount;
    const run = coaps(['-c', c.cert, '-j', c.key, '-C', pki.ca, '-s', '2', '-B', '5', `${cert}/devices/dtls2/cmd`]);
    await vi.waitFor(() => expect(gw.gateway.devices.connectedCount).toBe(before + 1), { timeout: 8000, interval: 20 });
    expect(gw.gateway.devices.publish({ topic: 'devices/dtls2/cmd', payload: Buffer.from('[cmd]'), qos: 1, retain: false }).delivered).toBe(1);
    expect((await run).stdout).toContain('[cmd]');
  });

  it('fragments the certificate flight to fit a small mtu (RFC 6347 §4.2.3)', async () => {
    const c = pki.device('sensor-10');
    const r = await coaps(['-c', c.cert, '-j', c.key, '-C', pki.ca, '-m', 'post', '-e', 'small', `coaps://127.0.0.1:${gw.port('coaps-small')}/sensors/small`]);
    expect(r.stdout).toContain('got 5 bytes');
  });

  it('an untrusted client certificate fails the handshake (unknown CA)', async () => {
    const rogue = pki.device('intruder', { rogue: true });
    const r = await coaps(['-c', rogue.cert, '-j', rogue.key, '-C', pki.ca, '-m', 'post', '-e', 'x', `${cert}/sensors/rogue`]);
    expect(r.stdout).not.toContain('got');
    expect(r.stdout + r.stderr).toMatch(/unknown ca/i);
    expect(backend.requests.some((q) => q.url === '/r/sensors/rogue')).toBe(false);
    expect(gw.logs.some((l) => String(l.detail).includes('client certificate from an unknown CA'))).toBe(true);
  });
});

describe('coaps AES-128-GCM suites (openssl s_client -dtls1_2 -cipher)', () => {
  it('TLS_PSK_WITH_AES_128_GCM_SHA256', async () => {
    const seen = backend.requests.length;
    const out = await sClient(
      [String(gw.port('coaps-psk')), '-psk_identity', 'dev1', '-psk', Buffer.from('secret-1').toString('hex'), '-cipher', 'PSK-AES128-GCM-SHA256'],
      coapGet('gcm'),
    );
    expect(out).toContain('Cipher is PSK-AES128-GCM-SHA256');
    // Under load the script route can take long: wait for its request rather than assume it.
    await vi.waitFor(() => expect(backend.requests.slice(seen).map((q) => q.url)).toEqual(['/inspected']), { timeout: 20_000, interval: 50 });
    expect(inspected()).toEqual({ tls: expect.objectContaining({ cipher: 'PSK-AES128-GCM-SHA256', pskIdentity: 'dev1' }), principal: 'dev1' });
  });

  it('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 with a client certificate', async () => {
    const c = pki.device('sensor-9');
    const seen = backend.requests.length;
    const out = await sClient(
      [String(gw.port('coaps-cert')), '-cert', c.cert, '-key', c.key, '-CAfile', pki.ca, '-verify_return_error', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'],
      coapGet('gcm-cert'),
    );
    expect(out).toContain('Cipher is ECDHE-ECDSA-AES128-GCM-SHA256');
    expect(out).toContain('Verify return code: 0 (ok)');
    // Under load the script route can take long: wait for its request rather than assume it.
    await vi.waitFor(() => expect(backend.requests.slice(seen).map((q) => q.url)).toEqual(['/inspected']), { timeout: 20_000, interval: 50 });
    expect(inspected()).toEqual({
      tls: expect.objectContaining({ cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256', peerCommonName: 'sensor-9' }),
      principal: 'sensor-9',
    });
  });

  it('a client without a certificate is refused when dtls.ca asks for one', async () => {
    const seen = backend.requests.length;
    const out = await sClient([String(gw.port('coaps-cert')), '-CAfile', pki.ca, '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'], coapGet('nocert'));
    expect(out).toMatch(/alert handshake failure/i);
    expect(backend.requests.length).toBe(seen);
    expect(gw.logs.some((l) => String(l.detail).includes('client certificate missing'))).toBe(true);
  });
});

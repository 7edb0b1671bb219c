/**
 * Interoperability with libcoap's command-line client (Debian libcoap3-bin):
 * CON, NON, error answers, block-wise both ways, observe. coap-client exits 0
 * even on 4.xx answers, so the tests assert on what it prints.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const CLIENT = ['/usr/bin/coap-client', '/usr/bin/coap-client-notls', '/usr/bin/coap-client-openssl', '/usr/bin/coap-client-gnutls'].find((p) => existsSync(p));
if (!CLIENT) throw new Error('libcoap coap-client not found: install libcoap3-bin');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs coap-client asynchronously (the gateway shares this event loop) with a hard timeout. */
function coapClient(args: string[], timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(CLIENT!, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code?: unknown }).code as number) : 1) : 0, stdout, stderr });
    });
  });
}

const BIG = Buffer.from('libcoap-block2:'.repeat(200)); // 3000 bytes
let backend: TestBackend;
let gw: TestGateway;
let base: string;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'thinggate-coap-'));
  backend = await TestBackend.start((req) => {
    if (req.url.startsWith('/r/missing')) return { status: 404, body: 'no such thing' };
    if (req.url.startsWith('/r/big')) return { status: 200, body: BIG, headers: { 'content-type': 'text/plain' } };
    return { status: 200, body: `got ${req.body.length} bytes`, headers: { 'content-type': 'text/plain' } };
  });
  // Default CoAP options (the amplification cap is on, as in production), except the rate limit:
  // every coap-client run comes from 127.0.0.1, one source address, and the block-wise runs
  // below send a few hundred requests within a second.
  gw = await startGateway({
    listeners: [{ name: 'coap', protocol: 'coap', host: '127.0.0.1', port: 0, coap: { requestsPerSecond: 1000, burst: 1000 } }],
    pools: [{ name: 'be', endpoints: [{ url: backend.url }] }],
    routes: [
      { match: { address: 'devices/#' }, target: 'devices' },
      { match: { address: '#' }, pool: 'be', request: { method: 'POST', path: '/r/{address}', reply: true } },
    ],
  });
  base = `coap://127.0.0.1:${gw.port('coap')}`;
});

afterAll(async () => {
  await gw.stop();
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('libcoap coap-client', () => {
  it('CON POST: the back-end gets the payload, the client prints the reply', async () => {
    const r = await coapClient(['-m', 'post', '-t', 'text/plain', '-e', 'hello', `${base}/sensors/libcoap?unit=c`]);
    expect(r.stdout).toContain('got 5 bytes');
    const req = backend.requests.find((q) => q.url === '/r/sensors/libcoap')!;
    expect(req.body.toString()).toBe('hello');
    expect(req.headers['content-type']).toBe('text/plain; charset=utf-8');
  });

  it('NON POST', async () => {
    const r = await coapClient(['-N', '-m', 'post', '-e', 'non', `${base}/sensors/non`]);
    expect(r.stdout).toContain('got 3 bytes');
    expect(backend.requests.some((q) => q.url === '/r/sensors/non')).toBe(true);
  });

  it('prints 4.04 when the back-end answers 404', async () => {
    const r = await coapClient(['-m', 'post', '-e', 'x', `${base}/missing`]);
    expect(r.code).toBe(0);
    expect(r.stderr + r.stdout).toContain('4.04');
  });

  it('Block1 upload (-b 64): the back-end gets the whole body once', async () => {
    const file = join(dir, 'upload.bin');
    const body = Buffer.from('0123456789'.repeat(250)); // 2500 bytes in 40 blocks
    writeFileSync(file, body);
    const r = await coapClient(['-m', 'put', '-b', '64', '-f', file, `${base}/upload/file`]);
    expect(r.stdout).toContain('got 2500 bytes');
    const got = backend.requests.filter((q) => q.url === '/r/upload/file');
    expect(got).toHaveLength(1);
    expect(got[0]!.body.equals(body)).toBe(true);
  });

  it('Block2 download, with and without a client-chosen block size', async () => {
    for (const args of [['-b', '64'], []]) {
      const r = await coapClient(['-m', 'get', ...args, `${base}/big`]);
      expect(r.stdout.trimEnd()).toBe(BIG.toString());
    }
  });

  it('observe: registration, CON and NON notifications, deregistration on exit', async () => {
    const before = gw.gateway.devices.connectedCount;
    const run = coapClient(['-s', '3', '-B', '6', `${base}/devices/lib1/cmd`]);
    await vi.waitFor(() => expect(gw.gateway.devices.connectedCount).toBe(before + 1), { timeout: 5000, interval: 20 });
    expect(gw.gateway.devices.publish({ topic: 'devices/lib1/cmd', payload: Buffer.from('[first]'), qos: 1, retain: false }).delivered).toBe(1);
    expect(gw.gateway.devices.publish({ topic: 'devices/lib1/cmd', payload: Buffer.from('[second]'), qos: 0, retain: false }).delivered).toBe(1);
    const r = await run;
    expect(r.stdout).toContain('[first]');
    expect(r.stdout).toContain('[second]');
    expect(r.stdout.indexOf('[first]')).toBeLessThan(r.stdout.indexOf('[second]'));
    // coap-client cancels its observation when it ends (RFC 7641 §3.6).
    await vi.waitFor(() => expect(gw.gateway.devices.connectedCount).toBe(before), { timeout: 5000, interval: 20 });
  });
});

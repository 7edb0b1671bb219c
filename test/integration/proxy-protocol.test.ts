/**
 * The PROXY protocol on TCP listeners behind a real haproxy (`send-proxy`
 * and `send-proxy-v2`): each client connects from its own loopback address
 * (127.0.0.x), which the gateway sees through the header in the connection
 * list, the HTTP client id and the ban check; a header from an untrusted
 * address, a trusted peer without one, and malformed or truncated headers
 * are refused with a guard event, and the gateway keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { request } from 'node:http';
import { MqttClient } from 'mqtt';
import { startAdminBed, type AdminBed } from './admin-support.js';
import { selfSignedCert, type TestCert } from '../helpers/tls.js';
import { HaProxy } from '../helpers/haproxy.js';

const TRUSTED = { enabled: true, trustedFrom: ['127.0.0.1/32'] };

let dir: string;
let bed: AdminBed;
let cert: TestCert;
const proxies: HaProxy[] = [];
const clients: MqttClient[] = [];
let v1: HaProxy;
let v2: HaProxy;
let tlsV2: HaProxy;
let httpV1: HaProxy;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-proxy-'));
  cert = selfSignedCert();
  bed = await startAdminBed({
    listeners: [
      { name: 'pp', protocol: 'mqtt', host: '127.0.0.1', port: 0, proxyProtocol: TRUSTED, limits: { connectTimeoutMs: 1000 } },
      { name: 'pps', protocol: 'mqtt', host: '127.0.0.1', port: 0, proxyProtocol: TRUSTED, tls: { cert: cert.cert, key: cert.key } },
      { name: 'pph', protocol: 'http', host: '127.0.0.1', port: 0, proxyProtocol: TRUSTED, http: { clientIdHeader: 'x-none' } },
    ],
    pools: (url) => [{ name: 'default', endpoints: [{ url }], retries: { maxAttempts: 1 }, outlierDetection: { enabled: false } }],
    routes: [{ name: 'all', match: { address: '#' }, pool: 'default', request: { method: 'POST', path: '/t/{clientId}' } }],
  });
  const start = async (port: number, sendProxy: 'send-proxy' | 'send-proxy-v2'): Promise<HaProxy> => {
    const p = await HaProxy.start(dir, [port], { sendProxy, check: false });
    proxies.push(p);
    return p;
  };
  v1 = await start(bed.gw.port('pp'), 'send-proxy');
  v2 = await start(bed.gw.port('pp'), 'send-proxy-v2');
  tlsV2 = await start(bed.gw.port('pps'), 'send-proxy-v2');
  httpV1 = await start(bed.gw.port('pph'), 'send-proxy');
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.end(true);
  for (const p of proxies) await p.stop();
  await bed?.close();
  cert?.remove();
  rmSync(dir, { recursive: true, force: true });
});

/** An MQTT 5 client whose TCP connection leaves from `localAddress`. */
function mqttFrom(localAddress: string, port: number, clientId: string, tls = false): Promise<MqttClient> {
  const client = new MqttClient(
    () => {
      const tcp = netConnect({ host: '127.0.0.1', port, localAddress });
      return tls ? tlsConnect({ socket: tcp, rejectUnauthorized: false }) : tcp;
    },
    { clientId, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 },
  );
  clients.push(client);
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client));
    client.once('error', reject);
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

async function connectionOf(listener: string, clientId: string): Promise<{ remoteAddress: string } | undefined> {
  const body = (await (await bed.api(`/api/v1/connections?listener=${listener}&clientId=${clientId}`)).json()) as {
    connections: Array<{ remoteAddress: string }>;
  };
  return body.connections[0];
}

/** Raw bytes from `localAddress` straight to a listener; resolves with what came back once the gateway closed the socket. */
function raw(localAddress: string, port: number, bytes: Buffer): Promise<{ closed: boolean; reply: Buffer }> {
  return new Promise((resolve) => {
    const s: Socket = netConnect({ host: '127.0.0.1', port, localAddress });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ closed: false, reply: Buffer.concat(chunks) });
    }, 4000);
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, reply: Buffer.concat(chunks) });
    });
    s.write(bytes);
  });
}

/** A minimal MQTT 3.1.1 CONNECT (clean session, keep-alive 60 s). */
function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId);
  const varHeader = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c]);
  const payload = Buffer.concat([Buffer.from([id.length >> 8, id.length & 0xff]), id]);
  return Buffer.concat([Buffer.from([0x10, varHeader.length + payload.length]), varHeader, payload]);
}

describe('PROXY protocol through haproxy', () => {
  it('takes the client address from a version 1 header (send-proxy)', async () => {
    await mqttFrom('127.0.0.2', v1.port, 'pp-v1');
    expect(await connectionOf('pp', 'pp-v1')).toMatchObject({ remoteAddress: '127.0.0.2' });
  });

  it('takes the client address from a version 2 header (send-proxy-v2)', async () => {
    await mqttFrom('127.0.0.3', v2.port, 'pp-v2');
    expect(await connectionOf('pp', 'pp-v2')).toMatchObject({ remoteAddress: '127.0.0.3' });
  });

  it('reads the header before the TLS ClientHello on a TLS listener', async () => {
    await mqttFrom('127.0.0.6', tlsV2.port, 'pp-tls', true);
    expect(await connectionOf('pps', 'pp-tls')).toMatchObject({ remoteAddress: '127.0.0.6' });
  });

  it('gives an HTTP request the client address (its client id without a client-id header)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: httpV1.port, localAddress: '127.0.0.7', method: 'POST', path: '/ingress/telemetry' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('21.5');
    });
    expect(status).toBeLessThan(300);
    expect(bed.backend.requests.map((r) => r.url)).toContain('/t/127.0.0.7');
  });

  it('refuses a banned client address arriving through haproxy, and admits another client through the same haproxy', async () => {
    const res = await bed.api('/api/v1/bans', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'ip', value: '127.0.0.4', reason: 'proxy test' }),
    });
    expect(res.status).toBe(201);
    for (const p of [v1, v2]) {
      await expect(mqttFrom('127.0.0.4', p.port, `pp-banned-${p.port}`)).rejects.toThrow();
      await mqttFrom('127.0.0.5', p.port, `pp-other-${p.port}`);
    }
    expect(await connectionOf('pp', `pp-other-${v2.port}`)).toMatchObject({ remoteAddress: '127.0.0.5' });
  });
});

describe('PROXY protocol refusals', () => {
  const port = (): number => bed.gw.port('pp');

  it('refuses a header from an address not in trustedFrom, and serves that address without one', async () => {
    const before = await bed.gw.guardEvents('proxy-protocol', 'pp');
    const forged = Buffer.concat([Buffer.from('PROXY TCP4 10.9.9.9 127.0.0.1 1000 1883\r\n'), connectPacket('forger')]);
    expect((await raw('127.0.0.8', port(), forged)).closed).toBe(true);
    expect(await bed.gw.guardEvents('proxy-protocol', 'pp')).toBe(before + 1);
    await mqttFrom('127.0.0.8', port(), 'pp-direct');
    expect(await connectionOf('pp', 'pp-direct')).toMatchObject({ remoteAddress: '127.0.0.8' });
  });

  it('refuses a trusted peer without a header', async () => {
    const before = await bed.gw.guardEvents('proxy-protocol', 'pp');
    const r = await raw('127.0.0.1', port(), connectPacket('no-header'));
    expect(r).toEqual({ closed: true, reply: Buffer.alloc(0) });
    expect(await bed.gw.guardEvents('proxy-protocol', 'pp')).toBe(before + 1);
  });

  it('refuses malformed, oversize and truncated headers without harm', async () => {
    const before = await bed.gw.guardEvents('proxy-protocol', 'pp');
    const sig = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
    const bad = [
      Buffer.from('PROXY TCP4 1.2.3.4\r\n'),
      Buffer.from(`PROXY ${'A'.repeat(200)}\r\n`),
      Buffer.concat([sig, Buffer.from([0x21, 0x11, 0xff, 0xff])]),
      Buffer.concat([sig, Buffer.from([0x31, 0x11, 0x00, 0x0c]), Buffer.alloc(12)]),
      Buffer.concat([sig, Buffer.from([0x21, 0x11, 0x00, 0x04]), Buffer.alloc(4)]),
    ];
    const results = await Promise.all(bad.map((b) => raw('127.0.0.1', port(), b)));
    expect(results.every((r) => r.closed && r.reply.length === 0)).toBe(true);
    // Half a header, then silence: refused at limits.connectTimeoutMs (1 s here).
    expect((await raw('127.0.0.1', port(), Buffer.from('PROXY TCP4 1.2.'))).closed).toBe(true);
    expect(await bed.gw.guardEvents('proxy-protocol', 'pp')).toBe(before + bad.length + 1);
    // Still serving.
    await mqttFrom('127.0.0.9', v1.port, 'pp-after');
  });
});

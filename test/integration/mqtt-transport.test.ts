/**
 * Transports: MQTT over TLS and over secure WebSocket, the WebSocket path
 * check, and back-pressure on QoS 0 (reading pauses at limits.maxInflight).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestBackend } from '../helpers/backend.js';
import { RawClient, startBed } from './mqtt-support.js';

let dir: string;
let backend: TestBackend;
let gw: TestGateway;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tg-mqtt-tls-'));
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
    { stdio: 'ignore' },
  );
  backend = await TestBackend.start();
  const tls = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  gw = await startGateway({
    listeners: [
      { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0, tls },
      { name: 'wss', protocol: 'mqtt-ws', host: '127.0.0.1', port: 0, tls, mqtt: { wsPath: '/ws/mqtt' } },
    ],
    pools: [{ name: 'default', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
    routes: [{ match: { address: '#' }, pool: 'default' }],
  });
});
afterAll(async () => {
  await gw?.stop();
  await backend?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('serves MQTT over TLS', async () => {
  const c = await mqtt.connectAsync(`mqtts://127.0.0.1:${gw.port('mqtts')}`, { rejectUnauthorized: false, reconnectPeriod: 0, protocolVersion: 5 });
  try {
    const before = backend.requests.length;
    await c.publishAsync('secure/tcp', 'tls', { qos: 1 });
    await backend.waitFor(before + 1);
    expect(backend.requests.at(-1)!.url).toBe('/messages/secure/tcp');
  } finally {
    await c.endAsync();
  }
});

it('serves MQTT over secure WebSocket on the configured path', async () => {
  const c = await mqtt.connectAsync(`wss://127.0.0.1:${gw.port('wss')}/ws/mqtt`, { rejectUnauthorized: false, reconnectPeriod: 0, protocolVersion: 4 });
  try {
    const before = backend.requests.length;
    await c.publishAsync('secure/ws', 'wss', { qos: 2 });
    await backend.waitFor(before + 1);
    expect(backend.requests.at(-1)!.body.toString()).toBe('wss');
  } finally {
    await c.endAsync();
  }
});

it('refuses a WebSocket upgrade on another path with 404', async () => {
  const bed = await startBed();
  try {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: bed.wsPort,
        path: '/elsewhere',
        headers: {
          connection: 'upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          'sec-websocket-protocol': 'mqtt',
        },
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('upgrade', () => reject(new Error('upgraded')));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(404);
  } finally {
    await bed.close();
  }
});

it('pauses reading QoS 0 publishes while limits.maxInflight outcomes are awaited', async () => {
  const bed = await startBed({ limits: { maxInflight: 2 } });
  const gates: Array<() => void> = [];
  bed.backend.responder = () => new Promise((resolve) => gates.push(() => resolve({ status: 200 })));
  const raw = await RawClient.connected(bed.port, 5);
  try {
    const q0 = (n: number): Buffer =>
      mqttPacket.generate({ cmd: 'publish', topic: `bp/${n}`, payload: Buffer.from(String(n)), qos: 0, dup: false, retain: false }, { protocolVersion: 5 });
    // All three in one write: even packets already read wait while two outcomes are awaited.
    raw.write(Buffer.concat([q0(1), q0(2), q0(3)]));
    await bed.backend.waitFor(2);
    // Bounded negative check: the third must not reach the back-end while two are outstanding.
    await expect(bed.backend.waitFor(3, 300)).rejects.toThrow(/expected 3/);
    gates.shift()!();
    await bed.backend.waitFor(3);
    expect(bed.backend.requests.map((r) => r.url)).toEqual(['/messages/bp/1', '/messages/bp/2', '/messages/bp/3']);
  } finally {
    for (const g of gates) g();
    raw.destroy();
    await bed.close();
  }
});

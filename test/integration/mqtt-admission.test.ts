/**
 * Admission through the pipeline (here an `onConnect` script): refusals map
 * to v5 CONNACK 0x86/0x87 and v3.1.1 0x04/0x05; the admitted identity
 * travels with every message.
 */
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IConnackPacket } from 'mqtt-packet';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { TestBackend } from '../helpers/backend.js';
import { RawClient, client } from './mqtt-support.js';

let backend: TestBackend;
let gw: TestGateway;
let port: number;

beforeAll(async () => {
  backend = await TestBackend.start();
  gw = await startGateway({
    listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
    pools: [{ name: 'ingest', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 } }],
    routes: [{ match: { address: '#' }, script: resolve('scripts-examples/admission/script.js') }],
  });
  port = gw.port('mqtt');
});
afterAll(async () => {
  await gw?.stop();
  await backend?.close();
});

async function connack(version: 4 | 5, clientId: string, password: string): Promise<IConnackPacket> {
  const raw = await RawClient.open(port, version);
  try {
    raw.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: version,
      clientId,
      clean: true,
      keepalive: 60,
      username: 'u',
      password: Buffer.from(password),
    });
    return (await raw.next('connack')) as IConnackPacket;
  } finally {
    raw.destroy();
  }
}

describe('refusals', () => {
  it('maps bad credentials (401) to 0x86 / 0x04', async () => {
    expect((await connack(5, 'acme-0001', 'wrong')).reasonCode).toBe(0x86);
    expect((await connack(4, 'acme-0001', 'wrong')).returnCode).toBe(0x04);
    expect(gw.logs.some((l) => l.event === 'security' && l.kind === 'auth-failure')).toBe(true);
  });

  it('maps not allowed (403) to 0x87 / 0x05', async () => {
    expect((await connack(5, 'initech-0001', 'x')).reasonCode).toBe(0x87);
    expect((await connack(4, 'initech-0001', 'x')).returnCode).toBe(0x05);
  });

  it('never logs the password', () => {
    expect(JSON.stringify(gw.logs)).not.toContain('s3cret');
    expect(JSON.stringify(gw.logs)).not.toContain('wrong');
  });
});

it('admits a good client and carries its identity to the back-end', async () => {
  const c = await client(port, { protocolVersion: 5, clientId: 'acme-0042', username: 'u', password: 's3cret-acme' });
  try {
    await c.publishAsync('telemetry/x', '1', { qos: 1 });
    const req = backend.requests.at(-1)!;
    expect(req.url).toBe('/tenants/acme/messages');
    expect(req.headers['x-thinggate-identity']).toBe('acme-0042');
  } finally {
    await c.endAsync();
  }
});

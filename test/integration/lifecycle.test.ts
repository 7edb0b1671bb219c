/**
 * The gateway as a real process: SIGTERM drains in-flight messages before
 * exiting; SIGHUP reloads the configuration without dropping connections and
 * refuses an invalid file, keeping the running configuration.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { IPubackPacket } from 'mqtt-packet';
import { TestBackend } from '../helpers/backend.js';
import { listenerPort as mqttPort, startCli } from '../helpers/cli-process.js';

function configText(backendUrl: string, path: string): string {
  return `
listeners:
  - { name: mqtt, protocol: mqtt, host: 127.0.0.1, port: 0 }
pools:
  - { name: p, endpoints: [{ url: "${backendUrl}" }] }
routes:
  - { match: { address: "#" }, pool: p, request: { path: "${path}" } }
shutdown: { drainTimeoutMs: 10000 }
`;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('gateway process lifecycle', () => {
  it('SIGTERM drains: an in-flight QoS 1 message is delivered and acknowledged before exit 0', async () => {
    const backend = await TestBackend.start(() => ({ status: 200, delayMs: 800 }));
    cleanups.push(() => backend.close());
    const dir = mkdtempSync(join(tmpdir(), 'tg-life-'));
    const file = join(dir, 'gw.yaml');
    writeFileSync(file, configText(backend.url, '/m/{address}'));
    const gw = startCli(file);
    cleanups.push(() => void gw.child.kill('SIGKILL'));
    const port = await mqttPort(gw);
    const client = await mqtt.connectAsync({ port, host: '127.0.0.1', protocolVersion: 5, reconnectPeriod: 0, clientId: 'drainer' });
    cleanups.push(() => void client.end(true));
    const acked = client.publishAsync('t/1', 'draining', { qos: 1 });
    await backend.waitFor(1);
    gw.child.kill('SIGTERM');
    const packet = await acked;
    expect((packet as IPubackPacket | undefined)?.reasonCode ?? 0).toBe(0);
    expect(await gw.exited).toBe(0);
    expect(backend.requests.map((r) => [r.url, r.body.toString()])).toEqual([['/m/t/1', 'draining']]);
    expect(gw.lines.some((l) => l.msg === 'thinggate stopped')).toBe(true);
  });

  it('SIGHUP reloads routes in place, keeps connections, and refuses an invalid file', async () => {
    const backend = await TestBackend.start();
    cleanups.push(() => backend.close());
    const dir = mkdtempSync(join(tmpdir(), 'tg-life-'));
    const file = join(dir, 'gw.yaml');
    writeFileSync(file, configText(backend.url, '/before/{address}'));
    const gw = startCli(file);
    cleanups.push(() => void gw.child.kill('SIGKILL'));
    const port = await mqttPort(gw);
    const client = await mqtt.connectAsync({ port, host: '127.0.0.1', protocolVersion: 5, reconnectPeriod: 0, clientId: 'reloader' });
    cleanups.push(() => void client.end(true));
    let closed = false;
    client.on('close', () => (closed = true));

    await client.publishAsync('x', '1', { qos: 1 });
    writeFileSync(file, configText(backend.url, '/after/{address}'));
    gw.child.kill('SIGHUP');
    await gw.waitLog((l) => l.msg === 'configuration reloaded');
    await client.publishAsync('x', '2', { qos: 1 });

    writeFileSync(file, configText(backend.url, 'no-leading-slash'));
    gw.child.kill('SIGHUP');
    const refused = await gw.waitLog((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('reload refused'));
    expect(JSON.stringify(refused.problems)).toContain('/routes/0/request/path');
    await client.publishAsync('x', '3', { qos: 1 });

    expect(backend.requests.map((r) => r.url)).toEqual(['/before/x', '/after/x', '/after/x']);
    expect(closed).toBe(false);
    gw.child.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
  });
});

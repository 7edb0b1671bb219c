/**
 * Logs an operator can act on: failed messages at info, the start-up report,
 * the drain's falling in-flight count, and reasons sent to devices that do
 * not leak back-end URLs or bodies unless asked to.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { client } from './mqtt-support.js';
import { startAdminBed, type AdminBed } from './admin-support.js';

let bed: AdminBed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

const INFO = 30;

describe('operator logs', () => {
  it('logs each failed message at info: listener, client, address, route, endpoint, status and reason', async () => {
    bed = await startAdminBed({ routes: [{ name: 'telemetry', match: { address: 'telemetry/#' }, pool: 'default' }] });
    bed.backend.responder = () => ({ status: 503, body: 'db down' });
    const c = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'dev-l' });
    await expect(c.publishAsync('telemetry/1', 'x', { qos: 1 })).rejects.toMatchObject({ code: 0x80 });
    await expect(c.publishAsync('nowhere', 'x', { qos: 1 })).rejects.toMatchObject({ code: 0x90 });
    c.end(true);
    const failures = bed.gw.logs.filter((l) => l.event === 'message' && l.level === INFO);
    expect(failures).toEqual([
      expect.objectContaining({
        msg: 'message unavailable',
        listener: 'mqtt',
        clientId: 'dev-l',
        remoteAddress: '127.0.0.1',
        address: 'telemetry/1',
        route: 'telemetry',
        endpoint: bed.backend.url,
        status: 503,
        code: 'TG_ERR_UPSTREAM_STATUS',
        reason: expect.stringContaining('db down'),
      }),
      expect.objectContaining({ msg: 'message without a route', address: 'nowhere', status: 404, code: 'TG_ERR_NO_ROUTE' }),
    ]);
  });

  it('does not send back-end URLs or bodies to devices unless log.upstreamDetailsToDevices', async () => {
    bed = await startAdminBed();
    bed.backend.responder = () => ({ status: 503, body: 'secret-internal-body' });
    const c = await client(bed.mqttPort, { protocolVersion: 5 });
    const err = await c.publishAsync('t', 'x', { qos: 1 }).catch((e: Error) => e);
    c.end(true);
    expect(String(err)).not.toContain('secret-internal-body');
    expect(String(err)).not.toContain('127.0.0.1');
    await bed.close();

    bed = await startAdminBed({ log: { upstreamDetailsToDevices: true } });
    bed.backend.responder = () => ({ status: 503, body: 'secret-internal-body' });
    const d = await client(bed.mqttPort, { protocolVersion: 5 });
    const puback = new Promise<{ reasonString?: string }>((resolve) => {
      d.on('packetreceive', (p) => {
        if (p.cmd === 'puback') resolve((p as { properties?: { reasonString?: string } }).properties ?? {});
      });
    });
    d.publish('t', 'x', { qos: 1 }, () => undefined);
    expect((await puback).reasonString).toContain('secret-internal-body');
    d.end(true);
  });

  it('reports each listener with its scheme, the pools, the configuration and the admin address at start-up', async () => {
    bed = await startAdminBed();
    const msgs = bed.gw.logs.map((l) => l.msg);
    expect(msgs).toContain(`listening: mqtt on mqtt://127.0.0.1:${bed.mqttPort}`);
    expect(msgs).toContain(`pool default: ${bed.backend.url}`);
    expect(msgs).toContain(`admin: dashboard, API and /metrics at ${bed.base}/`);
    expect(bed.gw.logs.find((l) => l.msg === 'thinggate started')).toMatchObject({ config: '<test>', admin: `${bed.base}/` });
  });

  it('logs the in-flight count while draining', async () => {
    bed = await startAdminBed();
    const held: Array<() => void> = [];
    bed.backend.responder = () => new Promise((r) => held.push(() => r({ status: 200 })));
    const c = await client(bed.mqttPort, { protocolVersion: 5 });
    const p = c.publishAsync('t', 'x', { qos: 1 });
    await bed.backend.waitFor(1);
    const stopping = bed.gw.gateway.stop({ drain: true });
    expect(bed.gw.logs.some((l) => l.msg === 'draining: 1 message in flight')).toBe(true);
    held.forEach((f) => f());
    await p;
    await stopping;
    expect(bed.gw.logs.at(-1)?.msg).toBe('thinggate stopped');
    c.end(true);
  });
});

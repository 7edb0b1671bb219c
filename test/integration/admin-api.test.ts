/**
 * The admin REST API against a real gateway: listeners, connections (and
 * closing one with MQTT 5 DISCONNECT 0x98), devices, pools and endpoint
 * drain, routes, configuration and reload, events and their live stream.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { client, nextEvent, RawClient } from './mqtt-support.js';
import { startAdminBed, type AdminBed } from './admin-support.js';
import { TestBackend } from '../helpers/backend.js';
import { parseConfig } from '../../src/config/load.js';
import rhea, { type EventContext } from 'rhea';

let bed: AdminBed | undefined;
const extra: Array<() => Promise<void>> = [];
afterEach(async () => {
  await bed?.close();
  bed = undefined;
  for (const f of extra.splice(0)) await f();
});

async function json<T = Record<string, unknown>>(r: Response | Promise<Response>): Promise<T> {
  return (await (await r).json()) as T;
}

describe('admin API', () => {
  it('lists listeners with state, address and connections', async () => {
    bed = await startAdminBed();
    const c = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'dev-1' });
    const ls = await json<Array<Record<string, unknown>>>(bed.api('/api/v1/listeners'));
    expect(ls).toEqual([expect.objectContaining({ name: 'mqtt', protocol: 'mqtt', state: 'listening', address: `127.0.0.1:${bed.mqttPort}`, connections: 1 })]);
    c.end(true);
  });

  it('lists connections with filters and closes one with DISCONNECT 0x98; an unknown client id is 404', async () => {
    bed = await startAdminBed();
    const a = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'dev-a' });
    const b = await client(bed.mqttPort, { protocolVersion: 4, clientId: 'dev-b' });
    const all = await json<{ total: number; connections: Array<Record<string, unknown>> }>(bed.api('/api/v1/connections'));
    expect(all.total).toBe(2);
    const one = await json<{ total: number; connections: Array<Record<string, unknown>> }>(bed.api('/api/v1/connections?clientId=dev-a'));
    expect(one.connections).toEqual([
      expect.objectContaining({ listener: 'mqtt', clientId: 'dev-a', remoteAddress: '127.0.0.1', protocolVersion: 'mqtt 5', state: 'connected' }),
    ]);
    expect((await json<{ total: number }>(bed.api('/api/v1/connections?listener=other'))).total).toBe(0);
    expect((await json<{ total: number }>(bed.api('/api/v1/connections?remoteAddress=127.0.0.1&limit=1'))).total).toBe(2);

    const disconnect = nextEvent<{ reasonCode: number; properties?: { reasonString?: string } }>(a, 'disconnect');
    const del = await bed.api('/api/v1/connections/dev-a?reason=maintenance', { method: 'DELETE' });
    expect(del.status).toBe(200);
    const d = await disconnect;
    expect(d.reasonCode).toBe(0x98);
    expect(d.properties?.reasonString).toBe('maintenance');

    const missing = await bed.api('/api/v1/connections/nobody', { method: 'DELETE' });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not_found' });
    a.end(true);
    b.end(true);
  });

  it('closes an AMQP connection with amqp:connection:forced', async () => {
    bed = await startAdminBed({ listeners: [{ name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0 }] });
    const container = rhea.create_container({ id: 'amqp-dev' });
    container.on('error', () => undefined);
    container.on('disconnected', () => undefined);
    const conn = container.connect({ host: '127.0.0.1', port: bed.gw.port('amqp'), reconnect: false });
    await new Promise((r) => conn.once('connection_open', r));
    const listed = await json<{ connections: Array<Record<string, unknown>> }>(bed.api('/api/v1/connections?listener=amqp'));
    expect(listed.connections).toEqual([expect.objectContaining({ listener: 'amqp', clientId: 'amqp-dev', protocolVersion: 'amqp 1.0', state: 'open' })]);
    const closed = new Promise<string | undefined>((r) =>
      conn.once('connection_error', (ctx: EventContext) => r((ctx.connection.error as { condition?: string } | undefined)?.condition)),
    );
    expect((await bed.api('/api/v1/connections/amqp-dev?listener=amqp', { method: 'DELETE' })).status).toBe(200);
    expect(await closed).toBe('amqp:connection:forced');
  });

  it('shows devices with their subscriptions', async () => {
    bed = await startAdminBed();
    const c = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'dev-s' });
    await c.subscribeAsync('cmd/dev-s/#', { qos: 1 });
    expect(await json(bed.api('/api/v1/devices/dev-s'))).toEqual({ clientId: 'dev-s', listener: 'mqtt', subscriptions: [{ filter: 'cmd/dev-s/#', qos: 1 }] });
    expect(await json(bed.api('/api/v1/devices'))).toMatchObject({ total: 1 });
    expect((await bed.api('/api/v1/devices/nobody')).status).toBe(404);
    c.end(true);
  });

  it('drains an endpoint: new messages go elsewhere, its in-flight one finishes; undrain brings it back', async () => {
    const other = await TestBackend.start();
    extra.push(() => other.close());
    const held: Array<() => void> = [];
    bed = await startAdminBed({
      pools: (url) => [
        {
          name: 'default',
          strategy: 'round-robin',
          endpoints: [{ url }, { url: other.url }],
          retries: { maxAttempts: 1 },
          outlierDetection: { enabled: false },
        },
      ],
    });
    bed.backend.responder = () => new Promise((r) => held.push(() => r({ status: 200 })));
    const c = await client(bed.mqttPort, { protocolVersion: 5, clientId: 'dev-d' });
    // Round-robin: the first message goes to endpoint 0 and is held there.
    const inflight = c.publishAsync('t/0', 'held', { qos: 1 });
    await bed.backend.waitFor(1);
    const drained = await bed.api('/api/v1/pools/default/endpoints/0/drain', { method: 'POST' });
    expect(drained.status).toBe(200);
    expect(await drained.json()).toMatchObject({ url: bed.backend.url, drained: true, inflight: 1 });
    for (let i = 0; i < 4; i++) await c.publishAsync(`t/${i}`, 'x', { qos: 1 });
    expect(other.requests.length).toBe(4);
    expect(bed.backend.requests.length).toBe(1);
    held.forEach((f) => f());
    await inflight; // the in-flight message finished and was acknowledged
    const byUrl = await bed.api(`/api/v1/pools/default/endpoints/${encodeURIComponent(bed.backend.url)}/undrain`, { method: 'POST' });
    expect(await byUrl.json()).toMatchObject({ drained: false });
    bed.backend.responder = () => ({ status: 200 });
    for (let i = 0; i < 4; i++) await c.publishAsync(`t/${i}`, 'x', { qos: 1 });
    expect(bed.backend.requests.length).toBe(3);
    const pool = await json<{ endpoints: Array<Record<string, unknown>> }>(bed.api('/api/v1/pools/default'));
    expect(pool.endpoints[0]).toMatchObject({ state: 'healthy', drained: false, requests: 3, latencyMs: { p50: expect.any(Number) } });
    expect((await bed.api('/api/v1/pools/nope/endpoints/0/drain', { method: 'POST' })).status).toBe(404);
    expect((await bed.api('/api/v1/pools/default/endpoints/7/drain', { method: 'POST' })).status).toBe(404);
    c.end(true);
  });

  it('counts route hits', async () => {
    bed = await startAdminBed({
      routes: [
        { name: 'telemetry', match: { address: 'telemetry/#' }, pool: 'default' },
        { name: 'rest', match: { address: '#' }, pool: 'default' },
      ],
    });
    const c = await client(bed.mqttPort, { protocolVersion: 5 });
    await c.publishAsync('telemetry/1', 'x', { qos: 1 });
    await c.publishAsync('telemetry/2', 'x', { qos: 1 });
    await c.publishAsync('other', 'x', { qos: 1 });
    const routes = await json<Array<Record<string, unknown>>>(bed.api('/api/v1/routes'));
    expect(routes.map((r) => [r.name, r.pool, r.hits])).toEqual([
      ['telemetry', 'default', 2],
      ['rest', 'default', 1],
    ]);
    c.end(true);
  });

  it('shows the configuration with secrets redacted, and a reload answers with every problem', async () => {
    let next: unknown = { listeners: [], pools: [], routes: [{ match: { address: '#' }, pool: 'nope' }], admin: { port: 0, tiemout: 1 } };
    bed = await startAdminBed({ token: 'tok-123', configLoader: () => parseConfig(next, { source: 'gw.yaml' }) });
    const cfg = await json<{ admin: Record<string, unknown> }>(bed.api('/api/v1/config'));
    expect(cfg.admin.token).toBe('[redacted]');
    expect(JSON.stringify(cfg)).not.toContain('tok-123');
    const bad = await bed.api('/api/v1/config/reload', { method: 'POST' });
    expect(bad.status).toBe(422);
    const body = await json<{ problems: string[] }>(bad);
    expect(body.problems).toEqual(expect.arrayContaining([expect.stringContaining("/admin: unknown key 'tiemout'")]));
    // Still running the old configuration.
    expect((await bed.api('/api/v1/listeners')).status).toBe(200);
    const current = bed.gw.gateway.configuration;
    next = {
      listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
      pools: current.pools,
      routes: [{ name: 'only', match: { address: 'x/#' }, pool: 'default' }],
      admin: current.admin,
    };
    const ok = await bed.api('/api/v1/config/reload', { method: 'POST' });
    expect(ok.status).toBe(200);
    expect((await json<Array<{ name: string }>>(bed.api('/api/v1/routes'))).map((r) => r.name)).toEqual(['only']);
    // A changed admin section is not applied in place, and says so.
    expect(bed.gw.logs.some((l) => String(l.msg).startsWith('the admin section changed'))).toBe(false);
    next = { ...(next as object), admin: { ...current.admin, eventBuffer: 7 } };
    expect((await bed.api('/api/v1/config/reload', { method: 'POST' })).status).toBe(200);
    expect(bed.gw.logs.some((l) => String(l.msg).startsWith('the admin section changed'))).toBe(true);
  });

  it('answers 409 to a reload without a file', async () => {
    bed = await startAdminBed();
    const r = await bed.api('/api/v1/config/reload', { method: 'POST' });
    expect(r.status).toBe(409);
  });

  it('keeps recent security events and streams them live', async () => {
    bed = await startAdminBed();
    const ac = new AbortController();
    const stream = await bed.api('/api/v1/events/stream', { signal: ac.signal });
    expect(stream.headers.get('content-type')).toContain('text/event-stream');
    const reader = stream.body!.getReader();
    const raw = await RawClient.open(bed.mqttPort, 5);
    raw.write(Buffer.from([0x10, 0x06, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54]));
    let text = '';
    while (!text.includes('event: security')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toMatch(/"kind":"malformed-packet"/);
    ac.abort();
    const events = await json<{ events: Array<Record<string, unknown>> }>(bed.api('/api/v1/events?category=security'));
    expect(events.events).toEqual([
      expect.objectContaining({ seq: 1, category: 'security', kind: 'malformed-packet', listener: 'mqtt', remoteAddress: '127.0.0.1' }),
    ]);
    expect((await json<{ events: unknown[] }>(bed.api('/api/v1/events?since=1'))).events).toEqual([]);
  });

  it('lists scripts with versions and refuses a reload that does not compile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-admin-'));
    const file = join(dir, 'route.js');
    writeFileSync(file, "export function onMessage(msg) { if (msg.address === 'boom') throw new Error('boom'); return route('default'); }\n");
    bed = await startAdminBed({ routes: [{ match: { address: '#' }, script: file, pool: 'default' }], admin: {} });
    const c = await client(bed.mqttPort, { protocolVersion: 5 });
    // The script throws: the device gets a negative PUBACK and the error is counted.
    await expect(c.publishAsync('boom', 'x', { qos: 1 })).rejects.toMatchObject({ code: 0x80 });
    const scripts = await json<Array<Record<string, unknown>>>(bed.api('/api/v1/scripts'));
    expect(scripts).toEqual([expect.objectContaining({ script: file, file, version: expect.any(Number), errors: 1 })]);
    writeFileSync(file, 'export function onMessage( {\n');
    const r = await bed.api(`/api/v1/scripts/${encodeURIComponent(file)}/reload`, { method: 'POST' });
    expect(r.status).toBe(422);
    expect(await r.json()).toMatchObject({ script: file, compileError: expect.any(String), version: scripts[0]!.version });
    expect((await bed.api('/api/v1/scripts/nope.js/reload', { method: 'POST' })).status).toBe(404);
    c.end(true);
  });
});

/**
 * The admin server: probes, /metrics, bearer authentication, bad input.
 * Real gateway, real MQTT client, admin server on 127.0.0.1 port 0.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { client } from './mqtt-support.js';
import { startAdminBed, type AdminBed } from './admin-support.js';
import { startGateway } from '../helpers/gateway.js';
import { createServer, type AddressInfo } from 'node:net';

let bed: AdminBed | undefined;
afterEach(async () => {
  await bed?.close();
  bed = undefined;
});

describe('admin server', () => {
  it('answers /healthz and /readyz, and /readyz says why it is not ready', async () => {
    bed = await startAdminBed();
    const h = await bed.api('/healthz');
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ status: 'ok' });
    const r = await bed.api('/readyz');
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ready: true, reasons: [] });
    // The only endpoint of the pool the route needs is drained: not ready.
    bed.gw.gateway.setEndpointDrained('default', bed.backend.url, true);
    const nr = await bed.api('/readyz');
    expect(nr.status).toBe(503);
    expect((await nr.json()) as { reasons: string[] }).toEqual({ ready: false, reasons: ["pool 'default' has no healthy endpoint"] });
  });

  it('answers 503 on /readyz while draining', async () => {
    bed = await startAdminBed();
    const held: Array<() => void> = [];
    bed.backend.responder = () => new Promise((r) => held.push(() => r({ status: 200 })));
    const c = await client(bed.mqttPort, { protocolVersion: 5 });
    const published = c.publishAsync('t/1', 'x', { qos: 1 });
    await bed.backend.waitFor(1);
    const stopping = bed.gw.gateway.stop({ drain: true });
    const r = await bed.api('/readyz');
    expect(r.status).toBe(503);
    expect(((await r.json()) as { reasons: string[] }).reasons).toContain('draining: shutting down');
    held.forEach((f) => f());
    await published;
    await stopping;
    c.end(true);
    await bed.backend.close();
    bed = undefined;
  });

  it('serves Prometheus metrics: process metrics and messages by outcome', async () => {
    bed = await startAdminBed();
    const c = await client(bed.mqttPort, { protocolVersion: 5 });
    await c.publishAsync('telemetry/1', 'x', { qos: 1 });
    c.end(true);
    const m = await bed.api('/metrics');
    expect(m.status).toBe(200);
    expect(m.headers.get('content-type')).toContain('text/plain');
    const text = await m.text();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toMatch(/thinggate_downstream_messages_total\{listener="mqtt",outcome="accepted"\} 1/);
    expect(text).toContain('thinggate_downstream_connections');
    expect(text).toContain('thinggate_upstream_attempt_duration_seconds_bucket');
    // Metrics whose collection lists every socket stay out: with many connections they would hold the event loop at each scrape.
    expect(text).not.toMatch(/^(process_open_fds|nodejs_active_handles|nodejs_active_resources)/m);
  });

  it('requires the bearer token: 401 with WWW-Authenticate, probes stay open', async () => {
    bed = await startAdminBed({ token: 's3cret-token' });
    const none = await bed.api('/metrics', { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="thinggate"');
    const wrong = await bed.api('/metrics', { token: 's3cret-tokem' });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('invalid_token');
    expect((await bed.api('/metrics')).status).toBe(200);
    expect((await bed.api('/healthz', { token: null })).status).toBe(200);
    expect(JSON.stringify(bed.gw.logs)).not.toContain('s3cret-token');
  });

  it('answers unknown paths with 404 JSON and malformed JSON with 400 and the parse error', async () => {
    bed = await startAdminBed();
    const nf = await bed.api('/api/v1/nope');
    expect(nf.status).toBe(404);
    expect(await nf.json()).toMatchObject({ error: 'not_found' });
    const bad = await bed.api('/api/v1/config/reload', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'bad_json', message: expect.stringContaining('JSON') });
    expect((await bed.api('/healthz')).status).toBe(200);
  });

  it('refuses to start with TG_ERR_LISTEN when the admin port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const start = startGateway({
        listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
        pools: [],
        routes: [],
        admin: { host: '127.0.0.1', port },
      });
      await expect(start).rejects.toMatchObject({ code: 'TG_ERR_LISTEN', message: expect.stringContaining(`admin server cannot bind 127.0.0.1:${port}`) });
    } finally {
      blocker.close();
    }
  });

  it('logs the admin URL at start-up', async () => {
    bed = await startAdminBed();
    const started = bed.gw.logs.find((l) => l.msg === 'thinggate started');
    expect(started?.admin).toBe(`${bed.base}/`);
  });
});

/**
 * The HTTP device-ingress listener against real sockets: fetch/undici as the
 * device, a real back-end behind the pipeline.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { Agent, Client, fetch as undiciFetch } from 'undici';
import { TestBackend } from '../helpers/backend.js';
import { errorCodeOf } from '../helpers/http.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { selfSignedCert } from '../helpers/tls.js';

let backend: TestBackend;
let gw: TestGateway;
let base: string;

beforeAll(async () => {
  backend = await TestBackend.start();
  gw = await startGateway({
    listeners: [{ name: 'web', protocol: 'http', host: '127.0.0.1', port: 0, limits: { maxPacketBytes: 1024 } }],
    pools: [{ name: 'be', endpoints: [{ url: backend.url }] }],
    routes: [
      { match: { address: 'reply/#' }, pool: 'be', request: { method: 'POST', path: '/reply/{address}', reply: true } },
      { match: { address: 'sensors/#' }, pool: 'be', request: { method: 'POST', path: '/m/{address}' } },
    ],
  });
  base = `http://127.0.0.1:${gw.port('web')}`;
});

afterAll(async () => {
  await gw.stop();
  await backend.close();
});

afterEach(() => {
  backend.responder = () => ({ status: 200, body: 'ok' });
  backend.requests.length = 0;
});

describe('ingress', () => {
  it('POST under the prefix → 202 without a reply; the back-end gets the message', async () => {
    const res = await fetch(`${base}/ingress/sensors/t1`, {
      method: 'POST',
      body: '{"t":1}',
      headers: { 'content-type': 'application/json', 'x-client-id': 'dev-1' },
    });
    expect(res.status).toBe(202);
    const r = backend.requests[0]!;
    expect(r.url).toBe('/m/sensors/t1');
    expect(r.body.toString()).toBe('{"t":1}');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['x-thinggate-client-id']).toBe('dev-1');
    expect(r.headers['x-thinggate-protocol']).toBe('http');
  });

  it('uses the remote address as client id without the header, and PUT works too', async () => {
    const res = await fetch(`${base}/ingress/sensors/t2`, { method: 'PUT', body: 'x' });
    expect(res.status).toBe(202);
    expect(backend.requests[0]!.headers['x-thinggate-client-id']).toBe('127.0.0.1');
  });

  it('decodes each path segment into the address', async () => {
    const res = await fetch(`${base}/ingress/sensors/my%20room/t%C3%BC`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(202);
    expect(decodeURIComponent(backend.requests[0]!.headers['x-thinggate-address'] as string)).toBe('sensors/my room/tü');
  });

  it("answers 200 with the back-end's reply body and content type", async () => {
    backend.responder = () => ({ status: 200, body: '{"ok":true}', headers: { 'content-type': 'application/json' } });
    const res = await fetch(`${base}/ingress/reply/x`, { method: 'POST', body: 'q' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.text()).toBe('{"ok":true}');
  });

  it('405 with Allow for other methods, 404 outside the prefix', async () => {
    const get = await fetch(`${base}/ingress/sensors/t1`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST, PUT');
    expect(await errorCodeOf(get)).toBe('TG_ERR_HTTP_METHOD');
    const other = await fetch(`${base}/elsewhere/x`, { method: 'POST', body: 'x' });
    expect(other.status).toBe(404);
    expect(backend.requests).toHaveLength(0);
  });

  it('maps rejections to their 4xx with a JSON {code, reason}', async () => {
    const noRoute = await fetch(`${base}/ingress/unrouted/x`, { method: 'POST', body: 'x' });
    expect(noRoute.status).toBe(404);
    expect(await noRoute.json()).toMatchObject({ code: 'TG_ERR_NO_ROUTE' });
    backend.responder = () => ({ status: 422, body: 'bad reading' });
    const rej = await fetch(`${base}/ingress/sensors/x`, { method: 'POST', body: 'x' });
    expect(rej.status).toBe(422);
    const body = (await rej.json()) as { code: string; reason: string };
    expect(body.code).toBe('TG_ERR_UPSTREAM_REJECTED');
    expect(body.reason).not.toContain('127.0.0.1'); // no internal back-end URL reaches the device
  });

  it('maps unavailability to 503 with Retry-After', async () => {
    backend.responder = () => ({ status: 500, body: 'down', headers: { 'retry-after': '3' } });
    const res = await fetch(`${base}/ingress/sensors/x`, { method: 'POST', body: 'x' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('3');
    expect(await errorCodeOf(res)).toBe('TG_ERR_UPSTREAM_STATUS');
  });

  it('refuses bodies over limits.maxPacketBytes with 413, declared or streamed', async () => {
    const declared = await fetch(`${base}/ingress/sensors/big`, { method: 'POST', body: Buffer.alloc(2048, 1) });
    expect(declared.status).toBe(413);
    expect(await errorCodeOf(declared)).toBe('TG_ERR_PAYLOAD_TOO_LARGE');
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 4; i++) c.enqueue(new Uint8Array(512));
        c.close();
      },
    });
    const chunked = await fetch(`${base}/ingress/sensors/big`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(backend.requests).toHaveLength(0);
  });

  it('keeps the connection alive across requests', async () => {
    const client = new Client(base);
    try {
      for (let i = 0; i < 3; i++) {
        const res = await client.request({ method: 'POST', path: '/ingress/sensors/ka', body: String(i) });
        expect(res.statusCode).toBe(202);
        await res.body.dump();
      }
      expect(gw.gateway.listener('web')!.stats().connections).toBe(1);
      expect(backend.requests).toHaveLength(3);
    } finally {
      await client.close();
    }
  });

  it('answers garbage with 400, counts it, and keeps serving', async () => {
    const before = gw.gateway.listener('web')!.stats().protocolErrors;
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(gw.port('web'), '127.0.0.1', () => s.write('\x16\x03\x01garbage that is not HTTP\r\n\r\n'));
      let data = '';
      s.on('data', (d) => (data += d.toString()));
      s.on('close', () => resolve(data));
      s.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400/);
    expect(gw.gateway.listener('web')!.stats().protocolErrors).toBe(before + 1);
    const ok = await fetch(`${base}/ingress/sensors/after`, { method: 'POST', body: 'x' });
    expect(ok.status).toBe(202);
  });
});

describe('request time-out', () => {
  it('closes a request whose body never comes within about requestTimeoutMs (a fuzzing finding)', async () => {
    // node checks request deadlines every connectionsCheckingInterval (30 s unless set): a 1 s deadline waited 30 s.
    const g = await startGateway({
      listeners: [{ name: 'web', protocol: 'http', host: '127.0.0.1', port: 0, http: { requestTimeoutMs: 1000 } }],
      pools: [{ name: 'be', endpoints: [{ url: backend.url }] }],
      routes: [{ match: { address: '#' }, pool: 'be' }],
    });
    try {
      const started = Date.now();
      const head = 'POST /ingress/t/h HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\n';
      const answer = await new Promise<string>((resolve, reject) => {
        const s = connect(g.port('web'), '127.0.0.1', () => s.write(head));
        const got: Buffer[] = [];
        const timer = setTimeout(() => (s.destroy(), reject(new Error('still open after 10 s'))), 10_000);
        s.on('data', (d) => got.push(d));
        s.on('error', () => undefined);
        s.on('close', () => (clearTimeout(timer), resolve(Buffer.concat(got).toString('latin1'))));
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect(answer).toMatch(/^HTTP\/1\.1 408 /);
      expect(await g.guardEvents('slow-client')).toBe(1);
    } finally {
      await g.stop();
    }
  });
});

describe('draining stop', () => {
  it('answers a request in flight before closing', async () => {
    const slow = await TestBackend.start(() => ({ status: 200, body: 'late', delayMs: 300 }));
    const g = await startGateway({
      listeners: [{ name: 'h', protocol: 'http', host: '127.0.0.1', port: 0 }],
      pools: [{ name: 'be', endpoints: [{ url: slow.url }] }],
      routes: [{ match: { address: '#' }, pool: 'be', request: { path: '/d', reply: true } }],
    });
    try {
      const pending = fetch(`http://127.0.0.1:${g.port('h')}/ingress/x`, { method: 'POST', body: 'x' });
      await slow.waitFor(1);
      const stopped = g.gateway.listener('h')!.stop({ drain: true, timeoutMs: 5000 });
      const res = await pending;
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('late');
      await stopped;
      expect(g.gateway.listener('h')!.address()).toBeNull();
    } finally {
      await g.stop();
      await slow.close();
    }
  });
});

describe('TLS', () => {
  it('serves ingress over https with the configured certificate', async () => {
    const { cert, key, remove } = selfSignedCert();
    const g = await startGateway({
      listeners: [{ name: 'tls', protocol: 'http', host: '127.0.0.1', port: 0, tls: { cert, key } }],
      pools: [{ name: 'be', endpoints: [{ url: backend.url }] }],
      routes: [{ match: { address: '#' }, pool: 'be', request: { path: '/t/{address}' } }],
    });
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      const res = await undiciFetch(`https://127.0.0.1:${g.port('tls')}/ingress/secure/x`, { method: 'POST', body: 'sealed', dispatcher });
      expect(res.status).toBe(202);
      expect(backend.requests[0]!.url).toBe('/t/secure/x');
      expect(backend.requests[0]!.body.toString()).toBe('sealed');
    } finally {
      await dispatcher.close();
      await g.stop();
      remove();
    }
  });
});

/**
 * The CoAP listener against real sockets: node-coap's client, and a raw UDP
 * socket (messages built with coap-packet, an independent codec) where a
 * test needs control over message ids, retransmissions and ACKs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import * as coap from 'coap';
import type { Packet } from 'coap-packet';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { RawClient, opt, uintOf } from './coap-support.js';

interface CoapResponse {
  code: string;
  payload: Buffer;
  options: Record<string, unknown>;
}

function request(port: number, agent: coap.Agent, params: coap.CoapRequestParams & { payload?: Buffer | string }): Promise<CoapResponse> {
  return new Promise((resolve, reject) => {
    const req = coap.request({ hostname: '127.0.0.1', port, agent, ...params });
    req.on('response', (res: coap.IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ code: res.code, payload: Buffer.concat(chunks), options: res.headers as Record<string, unknown> }));
    });
    req.on('error', reject);
    if (params.payload !== undefined) req.write(params.payload);
    req.end();
  });
}

let backend: TestBackend;
let gw: TestGateway;
let port: number;
let agent: coap.Agent;

const BIG = Buffer.from('0123456789abcdef'.repeat(320)); // 5120 bytes

beforeAll(async () => {
  backend = await TestBackend.start();
  gw = await startGateway({
    listeners: [
      {
        name: 'coap',
        protocol: 'coap',
        host: '127.0.0.1',
        port: 0,
        limits: { maxPacketBytes: 4096 },
        coap: { separateResponseAfterMs: 150, ackTimeoutMs: 150, ackRandomFactor: 1, maxRetransmit: 2, amplificationFactor: 0, requestsPerSecond: 0 },
      },
    ],
    pools: [{ name: 'be', endpoints: [{ url: backend.url }], timeoutMs: 1500 }],
    routes: [
      { match: { address: 'devices/#' }, target: 'devices' },
      { match: { address: 'reply/#' }, pool: 'be', request: { method: 'POST', path: '/reply/{address}', reply: true } },
      { match: { address: '#' }, pool: 'be', request: { method: 'POST', path: '/m/{address}' } },
    ],
  });
  port = gw.port('coap');
  agent = new coap.Agent({ type: 'udp4' });
});

afterAll(async () => {
  agent.close();
  await gw.stop();
  await backend.close();
});

afterEach(() => {
  backend.responder = () => ({ status: 200, body: 'ok' });
  backend.requests.length = 0;
});

describe('requests through node-coap', () => {
  it('forwards a CON POST and answers 2.04 Changed', async () => {
    const res = await request(port, agent, { method: 'POST', pathname: '/sensors/t1', payload: '{"t":21}', options: { 'Content-Format': 'application/json' } });
    expect(res.code).toBe('2.04');
    expect(backend.requests).toHaveLength(1);
    const r = backend.requests[0]!;
    expect(r.url).toBe('/m/sensors/t1');
    expect(r.body.toString()).toBe('{"t":21}');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['x-thinggate-protocol']).toBe('coap');
    expect(r.headers['x-thinggate-client-id']).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(r.headers['x-thinggate-correlation-id']).toMatch(/^[0-9a-f]+$/);
  });

  it('forwards a NON request and answers with a NON response', async () => {
    const res = await request(port, agent, { method: 'PUT', pathname: '/sensors/t2', confirmable: false, payload: 'x' });
    expect(res.code).toBe('2.04');
    expect(backend.requests[0]!.url).toBe('/m/sensors/t2');
  });

  it('keeps Uri-Query out of the address', async () => {
    const res = await request(port, agent, { method: 'POST', pathname: '/a/b', query: 'x=1&y=2', payload: 'q' });
    expect(res.code).toBe('2.04');
    expect(backend.requests[0]!.headers['x-thinggate-address']).toBe('a/b');
  });

  it("returns the back-end's reply with 2.05 Content and its Content-Format", async () => {
    backend.responder = () => ({ status: 200, body: '{"cmd":"on"}', headers: { 'content-type': 'application/json' } });
    const res = await request(port, agent, { method: 'POST', pathname: '/reply/x', payload: 'hi' });
    expect(res.code).toBe('2.05');
    expect(res.payload.toString()).toBe('{"cmd":"on"}');
    expect(res.options['Content-Format']).toBe('application/json');
  });

  it('answers 4.06 when the reply cannot have the Accept-ed format', async () => {
    backend.responder = () => ({ status: 200, body: '{"a":1}', headers: { 'content-type': 'application/json' } });
    const res = await request(port, agent, { method: 'POST', pathname: '/reply/x', payload: 'hi', options: { Accept: 'application/cbor' } });
    expect(res.code).toBe('4.06');
  });

  it('maps back-end statuses per RFC 8075', async () => {
    const cases: Array<[number, string, Record<string, string>?]> = [
      [404, '4.04'],
      [403, '4.03'],
      [415, '4.15'],
      [429, '4.29'],
    ];
    for (const [status, code] of cases) {
      backend.responder = () => ({ status, body: 'nope' });
      const res = await request(port, agent, { method: 'POST', pathname: '/s', payload: 'p' });
      expect(res.code, `HTTP ${status}`).toBe(code);
      expect(res.payload.toString()).toBe('TG_ERR_UPSTREAM_REJECTED'); // no internal back-end URL reaches the device
    }
    // Any 5xx from a back-end is `unavailable` (the device may retry): 5.03 with Max-Age from Retry-After.
    backend.responder = () => ({ status: 500, body: 'busy', headers: { 'retry-after': '7' } });
    const busy = await request(port, agent, { method: 'POST', pathname: '/s', payload: 'p' });
    expect(busy.code).toBe('5.03');
    expect(busy.options['Max-Age']).toBe(7);
  });

  it('answers 4.04 when no route matches and 2.02 for an accepted DELETE', async () => {
    const del = await request(port, agent, { method: 'DELETE', pathname: '/things/1' });
    expect(del.code).toBe('2.02');
    expect(backend.requests[0]!.headers['x-thinggate-address']).toBe('things/1');
  });

  it('reassembles a Block1 upload (2.31 Continue per block)', async () => {
    const body = BIG.subarray(0, 3000);
    const res = await request(port, agent, { method: 'POST', pathname: '/upload', payload: body, options: { Block1: Buffer.from([2]) } });
    expect(res.code).toBe('2.04');
    expect(backend.requests).toHaveLength(1);
    expect(backend.requests[0]!.body.equals(body)).toBe(true);
  });

  it('refuses a body over the maximum with 4.13 and Size1', async () => {
    const raw = await new RawClient(port).open();
    try {
      raw.send({
        confirmable: true,
        code: 'POST',
        messageId: 10,
        token: Buffer.from([1]),
        options: [{ name: 'Uri-Path', value: Buffer.from('x') }],
        payload: BIG,
      });
      const { msg } = await raw.next();
      expect(msg.code).toBe('4.13');
      expect(uintOf(opt(msg, 'Size1'))).toBe(4096);
      // Block1 announcing an oversize body with Size1 is refused at the first block (RFC 7959 §4).
      raw.send({
        confirmable: true,
        code: 'POST',
        messageId: 11,
        token: Buffer.from([2]),
        options: [
          { name: 'Uri-Path', value: Buffer.from('x') },
          { name: 'Block1', value: Buffer.from([0x0e]) },
          { name: 'Size1', value: Buffer.from([0x27, 0x10]) },
        ],
        payload: BIG.subarray(0, 1024),
      });
      expect((await raw.next()).msg.code).toBe('4.13');
      expect(backend.requests).toHaveLength(0);
    } finally {
      await raw.close();
    }
  });

  it('sends a large reply block-wise (Block2), reassembled by the client', async () => {
    backend.responder = () => ({ status: 200, body: BIG, headers: { 'content-type': 'text/plain' } });
    const res = await request(port, agent, { method: 'GET', pathname: '/reply/big' });
    expect(res.code).toBe('2.05');
    expect(res.payload.equals(BIG)).toBe(true);
    // Later blocks come from the held reply: the back-end was asked once.
    expect(backend.requests).toHaveLength(1);
  });
});

describe('message layer on a raw socket', () => {
  let raw: RawClient;
  beforeAll(async () => {
    raw = await new RawClient(port).open();
  });
  afterAll(() => raw.close());

  it('answers a duplicate CON from the cache: one back-end request, identical responses', async () => {
    backend.responder = () => ({ status: 200, body: 'once', headers: { 'content-type': 'text/plain' } });
    const pkt: Packet = {
      confirmable: true,
      code: 'POST',
      messageId: 0x1234,
      token: Buffer.from('cafe', 'hex'),
      options: [{ name: 'Uri-Path', value: Buffer.from('reply') }],
      payload: Buffer.from('dup'),
    };
    raw.send(pkt);
    const first = await raw.next();
    raw.send(pkt);
    const second = await raw.next();
    expect(first.msg.ack).toBe(true);
    expect(first.msg.code).toBe('2.05');
    expect(second.raw.equals(first.raw)).toBe(true);
    expect(backend.requests).toHaveLength(1);
  });

  it('sends an empty ACK, then a separate CON response retransmitted until ACKed', async () => {
    backend.responder = () => ({ status: 200, body: 'late', delayMs: 400 });
    raw.send({
      confirmable: true,
      code: 'POST',
      messageId: 0x2000,
      token: Buffer.from('beef', 'hex'),
      options: [{ name: 'Uri-Path', value: Buffer.from('reply') }],
      payload: Buffer.from('slow'),
    });
    const ack = await raw.next();
    expect(ack.msg.ack).toBe(true);
    expect(ack.msg.code).toBe('0.00');
    expect(ack.msg.messageId).toBe(0x2000);
    const sep = await raw.next();
    expect(sep.msg.confirmable).toBe(true);
    expect(sep.msg.code).toBe('2.05');
    expect(sep.msg.token.toString('hex')).toBe('beef');
    expect(sep.msg.payload.toString()).toBe('late');
    // Not acknowledged: the same CON comes again (RFC 7252 §4.2).
    const again = await raw.next();
    expect(again.raw.equals(sep.raw)).toBe(true);
    raw.send({ ack: true, code: '0.00', messageId: sep.msg.messageId });
    expect(await raw.silent(700)).toBe(true);
    expect(await gw.gateway.metrics.text()).toMatch(/thinggate_downstream_coap_events_total\{listener="coap",event="retransmit"\} [1-9]/);
    // A late duplicate of the request gets an empty ACK, not a second dispatch.
    raw.send({
      confirmable: true,
      code: 'POST',
      messageId: 0x2000,
      token: Buffer.from('beef', 'hex'),
      options: [{ name: 'Uri-Path', value: Buffer.from('reply') }],
      payload: Buffer.from('slow'),
    });
    const dupAck = await raw.next();
    expect(dupAck.msg.code).toBe('0.00');
    expect(backend.requests).toHaveLength(1);
  });

  it('answers an unknown method code with 4.05 and honours No-Response (RFC 7967)', async () => {
    raw.send({ confirmable: true, code: '0.08', messageId: 0x3000, token: Buffer.from([1]), options: [{ name: 'Uri-Path', value: Buffer.from('x') }] });
    expect((await raw.next()).msg.code).toBe('4.05');
    // NON with No-Response: 2 (not interested in 2.xx) → no answer, but the message is processed.
    raw.send({
      confirmable: false,
      code: 'POST',
      messageId: 0x3001,
      token: Buffer.from([2]),
      options: [
        { name: 'Uri-Path', value: Buffer.from('quiet') },
        { name: 'No-Response', value: Buffer.from([2]) },
      ],
      payload: Buffer.from('q'),
    });
    await backend.waitFor(1);
    expect(backend.requests[0]!.url).toBe('/m/quiet');
    // The next answer on this socket is the ping's RST, not a response to the NON.
    raw.send({ confirmable: true, code: '0.00', messageId: 0x3002 });
    expect((await raw.next()).msg.reset).toBe(true);
  });

  it('answers a CoAP ping with RST', async () => {
    raw.send({ confirmable: true, code: '0.00', messageId: 77 });
    const { msg } = await raw.next();
    expect(msg.reset).toBe(true);
    expect(msg.messageId).toBe(77);
  });

  it('refuses an unrecognised critical option with 4.02 and a proxy request with 5.05', async () => {
    raw.send({ confirmable: true, code: 'GET', messageId: 78, token: Buffer.from([9]), options: [{ name: '2049', value: Buffer.from([1]) }] });
    expect((await raw.next()).msg.code).toBe('4.02');
    raw.send({
      confirmable: true,
      code: 'GET',
      messageId: 79,
      token: Buffer.from([9]),
      options: [{ name: 'Proxy-Uri', value: Buffer.from('coap://elsewhere/x') }],
    });
    expect((await raw.next()).msg.code).toBe('5.05');
    expect(backend.requests).toHaveLength(0);
  });
});

describe('observe (RFC 7641)', () => {
  it('registers, notifies from devices.publish and a devices route, and deregisters', async () => {
    const raw = await new RawClient(port).open();
    try {
      const token = Buffer.from('0b5e', 'hex');
      raw.send({
        confirmable: true,
        code: 'GET',
        messageId: 500,
        token,
        options: [
          { name: 'Observe', value: Buffer.alloc(0) },
          { name: 'Uri-Path', value: Buffer.from('devices') },
          { name: 'Uri-Path', value: Buffer.from('d1') },
          { name: 'Uri-Path', value: Buffer.from('cmd') },
        ],
      });
      const reg = await raw.next();
      expect(reg.msg.code).toBe('2.05');
      const seq0 = uintOf(opt(reg.msg, 'Observe'))!;
      expect(seq0).toBeGreaterThanOrEqual(0);
      const clientId = `127.0.0.1:${raw.localPort}`;
      expect(gw.gateway.devices.lookup(clientId)).toBeDefined();

      // Southbound from the registry (what the devices API uses): QoS 1 → CON notification.
      gw.gateway.devices.publish({ topic: 'devices/d1/cmd', payload: Buffer.from('{"on":true}'), qos: 1, retain: false, contentType: 'application/json' });
      const n1 = await raw.next();
      expect(n1.msg.confirmable).toBe(true);
      expect(n1.msg.token.equals(token)).toBe(true);
      expect(n1.msg.payload.toString()).toBe('{"on":true}');
      expect(uintOf(opt(n1.msg, 'Content-Format'))).toBe(50);
      const seq1 = uintOf(opt(n1.msg, 'Observe'))!;
      expect(seq1).toBeGreaterThan(seq0);
      raw.send({ ack: true, code: '0.00', messageId: n1.msg.messageId });

      // Through a `target: devices` route: another device POSTs to the address (CON → QoS 1).
      const res = await request(port, agent, { method: 'POST', pathname: '/devices/d1/cmd', payload: 'reboot' });
      expect(res.code).toBe('2.04');
      const n2 = await raw.next();
      expect(n2.msg.payload.toString()).toBe('reboot');
      expect(uintOf(opt(n2.msg, 'Observe'))!).toBeGreaterThan(seq1);
      raw.send({ ack: true, code: '0.00', messageId: n2.msg.messageId });

      // And through Listener.deliver by client id.
      expect(gw.gateway.listener('coap')!.deliver(clientId, { topic: 'devices/d1/cmd', payload: Buffer.from('direct'), qos: 0, retain: false })).toBe(true);
      const n3 = await raw.next();
      expect(n3.msg.confirmable).toBe(false);
      expect(n3.msg.payload.toString()).toBe('direct');

      // Deregistration with Observe=1.
      raw.send({
        confirmable: true,
        code: 'GET',
        messageId: 501,
        token,
        options: [
          { name: 'Observe', value: Buffer.from([1]) },
          { name: 'Uri-Path', value: Buffer.from('devices') },
          { name: 'Uri-Path', value: Buffer.from('d1') },
          { name: 'Uri-Path', value: Buffer.from('cmd') },
        ],
      });
      const dereg = await raw.next();
      expect(dereg.msg.code).toBe('2.05');
      expect(opt(dereg.msg, 'Observe')).toBeUndefined();
      expect(gw.gateway.devices.lookup(clientId)).toBeUndefined();
      expect(gw.gateway.devices.publish({ topic: 'devices/d1/cmd', payload: Buffer.from('gone'), qos: 1, retain: false }).matched).toBe(0);
    } finally {
      await raw.close();
    }
  });

  it('deregisters an observer that answers a notification with RST', async () => {
    const raw = await new RawClient(port).open();
    try {
      raw.send({
        confirmable: false,
        code: 'GET',
        messageId: 600,
        token: Buffer.from([5]),
        options: [
          { name: 'Observe', value: Buffer.alloc(0) },
          { name: 'Uri-Path', value: Buffer.from('devices') },
          { name: 'Uri-Path', value: Buffer.from('d2') },
        ],
      });
      await raw.next();
      gw.gateway.devices.publish({ topic: 'devices/d2', payload: Buffer.from('a'), qos: 1, retain: false });
      const n = await raw.next();
      raw.send({ reset: true, code: '0.00', messageId: n.msg.messageId });
      // The RST is processed in order on the same socket; a ping round-trip proves it has been.
      raw.send({ confirmable: true, code: '0.00', messageId: 601 });
      expect((await raw.next()).msg.reset).toBe(true);
      expect(gw.gateway.devices.lookup(`127.0.0.1:${raw.localPort}`)).toBeUndefined();
    } finally {
      await raw.close();
    }
  });

  it('sends a large notification block-wise; the rest is fetched with GET + Block2 from the held copy', async () => {
    const raw = await new RawClient(port).open();
    try {
      const path = [
        { name: 'Uri-Path' as const, value: Buffer.from('devices') },
        { name: 'Uri-Path' as const, value: Buffer.from('big') },
      ];
      raw.send({ confirmable: true, code: 'GET', messageId: 700, token: Buffer.from([7]), options: [{ name: 'Observe', value: Buffer.alloc(0) }, ...path] });
      await raw.next();
      gw.gateway.devices.publish({ topic: 'devices/big', payload: BIG.subarray(0, 2500), qos: 0, retain: false });
      const n = await raw.next();
      expect(n.msg.payload.equals(BIG.subarray(0, 1024))).toBe(true);
      expect(uintOf(opt(n.msg, 'Block2'))).toBe((0 << 4) | 8 | 6);
      expect(uintOf(opt(n.msg, 'Size2'))).toBe(2500);
      const etag = opt(n.msg, 'ETag')!;
      const parts = [n.msg.payload];
      for (let num = 1; num <= 2; num++) {
        raw.send({
          confirmable: true,
          code: 'GET',
          messageId: 700 + num,
          token: Buffer.from([8]),
          options: [...path, { name: 'Block2', value: Buffer.from([(num << 4) | 6]) }],
        });
        const b = await raw.next();
        expect(b.msg.code).toBe('2.05');
        expect(opt(b.msg, 'ETag')!.equals(etag)).toBe(true);
        parts.push(b.msg.payload);
      }
      expect(Buffer.concat(parts).equals(BIG.subarray(0, 2500))).toBe(true);
      expect(backend.requests).toHaveLength(0);
    } finally {
      await raw.close();
    }
  });

  it('ends an observation whose CON notification is never acknowledged (RFC 7641 §4.5)', async () => {
    const raw = await new RawClient(port).open();
    try {
      raw.send({
        confirmable: true,
        code: 'GET',
        messageId: 800,
        token: Buffer.from([3]),
        options: [
          { name: 'Observe', value: Buffer.alloc(0) },
          { name: 'Uri-Path', value: Buffer.from('devices') },
          { name: 'Uri-Path', value: Buffer.from('mute') },
        ],
      });
      await raw.next();
      const clientId = `127.0.0.1:${raw.localPort}`;
      gw.gateway.devices.publish({ topic: 'devices/mute', payload: Buffer.from('hello?'), qos: 1, retain: false });
      const first = await raw.next();
      // Retransmitted maxRetransmit (2) times with the same message id, then given up.
      expect((await raw.next()).raw.equals(first.raw)).toBe(true);
      expect((await raw.next()).raw.equals(first.raw)).toBe(true);
      await vi.waitFor(() => expect(gw.gateway.devices.lookup(clientId)).toBeUndefined(), { timeout: 3000, interval: 20 });
    } finally {
      await raw.close();
    }
  });

  it('works with node-coap observe streams', async () => {
    const received: string[] = [];
    const req = coap.request({ hostname: '127.0.0.1', port, agent, pathname: '/devices/d3/cmd', observe: true });
    const stream = await new Promise<coap.ObserveReadStream>((resolve, reject) => {
      req.on('response', (res: coap.ObserveReadStream) => resolve(res));
      req.on('error', reject);
      req.end();
    });
    const got = new Promise<void>((resolve) => {
      stream.on('data', (d: Buffer) => {
        if (d.length === 0) return;
        received.push(d.toString());
        if (received.length === 2) resolve();
      });
    });
    gw.gateway.devices.publish({ topic: 'devices/d3/cmd', payload: Buffer.from('one'), qos: 1, retain: false });
    gw.gateway.devices.publish({ topic: 'devices/d3/cmd', payload: Buffer.from('two'), qos: 1, retain: false });
    await got;
    expect(received).toEqual(['one', 'two']);
    stream.close();
  });
});

describe('bad input', () => {
  it('drops random and truncated datagrams, counts them, and keeps serving', async () => {
    const raw = await new RawClient(port).open();
    const before = gw.gateway.listener('coap')!.stats().protocolErrors;
    try {
      const junk: Buffer[] = [
        Buffer.from([0x01]),
        Buffer.from([0x40, 0x01]),
        Buffer.from([0x4f, 0x01, 0x00, 0x01]), // token length 15
        Buffer.from([0x44, 0x01, 0x00, 0x02, 0xaa]), // truncated token
        Buffer.from([0x40, 0x01, 0x00, 0x03, 0xd1]), // truncated extended option delta
        Buffer.from([0x40, 0x01, 0x00, 0x04, 0xff]), // payload marker, no payload
        Buffer.from([0x40, 0x01, 0x00, 0x05, 0xb5, 0x61]), // option runs past the end
        Buffer.from([0x40, 0x01, 0x00, 0x06, 0xf0]), // reserved option delta 15
      ];
      for (let i = 0; i < 200; i++) {
        const b = Buffer.alloc(1 + Math.floor(Math.random() * 64));
        for (let j = 0; j < b.length; j++) b[j] = Math.floor(Math.random() * 256);
        junk.push(b);
      }
      for (const j of junk) raw.send(j);
      // A valid request from another client is still served.
      const res = await request(port, agent, { method: 'POST', pathname: '/after/junk', payload: 'ok' });
      expect(res.code).toBe('2.04');
      const stats = gw.gateway.listener('coap')!.stats();
      expect(stats.protocolErrors - before).toBeGreaterThanOrEqual(7);
      const metrics = await gw.gateway.metrics.text();
      expect(metrics).toMatch(/thinggate_guard_events_total\{listener="coap",kind="malformed-packet"\} \d+/);
      expect(metrics).toMatch(/thinggate_downstream_coap_events_total\{listener="coap",event="malformed"\} \d+/);
    } finally {
      await raw.close();
    }
  });

  it('rejects a malformed CON with RST', async () => {
    const raw = await new RawClient(port).open();
    try {
      raw.send(Buffer.from([0x40, 0x01, 0x12, 0x34, 0xff])); // CON, payload marker with no payload
      const { msg } = await raw.next();
      expect(msg.reset).toBe(true);
      expect(msg.messageId).toBe(0x1234);
    } finally {
      await raw.close();
    }
  });
});

/**
 * CoAP listener guarding: per-source rate limit (4.29, RFC 8516), the
 * amplification cap toward unverified sources (RFC 9175 §2.4) lifted by an
 * Echo round-trip, and a draining stop that still answers in-flight requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import * as coapPacket from 'coap-packet';
import type { Packet, ParsedPacket } from 'coap-packet';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { RawClient, opt, uintOf } from './coap-support.js';

const BIG = Buffer.alloc(3000, 'z');
let backend: TestBackend;
let gw: TestGateway;
let port: number;

beforeAll(async () => {
  backend = await TestBackend.start((req) =>
    req.url.startsWith('/reply') ? { status: 200, body: BIG, headers: { 'content-type': 'text/plain' } } : { status: 200 },
  );
  gw = await startGateway({
    listeners: [{ name: 'coap', protocol: 'coap', host: '127.0.0.1', port: 0, coap: { requestsPerSecond: 5, burst: 5 } }],
    pools: [{ name: 'be', endpoints: [{ url: backend.url }] }],
    routes: [
      { match: { address: 'reply/#' }, pool: 'be', request: { method: 'POST', path: '/reply/{address}', reply: true } },
      { match: { address: '#' }, pool: 'be', request: { method: 'POST', path: '/m/{address}' } },
    ],
  });
  port = gw.port('coap');
});

afterAll(async () => {
  await gw.stop();
  await backend.close();
});

describe('rate limit', () => {
  it('answers 4.29 with Max-Age beyond the per-source rate and reports it', async () => {
    const raw = await new RawClient(port).open();
    try {
      const before = backend.requests.length;
      for (let i = 0; i < 8; i++)
        raw.send({
          confirmable: false,
          code: 'POST',
          messageId: 100 + i,
          token: Buffer.from([i]),
          options: [{ name: 'Uri-Path', value: Buffer.from('r') }],
          payload: Buffer.from('x'),
        });
      const codes: string[] = [];
      let maxAge: number | undefined;
      for (let i = 0; i < 8; i++) {
        const { msg } = await raw.next();
        codes.push(msg.code);
        if (msg.code === '4.29') maxAge = uintOf(opt(msg, 'Max-Age'));
      }
      expect(codes.filter((c) => c === '4.29').length).toBeGreaterThanOrEqual(2);
      expect(maxAge).toBeGreaterThanOrEqual(1);
      expect(backend.requests.length - before).toBe(codes.filter((c) => c === '2.04').length);
      expect(gw.logs.some((l) => l['event'] === 'security' && l['kind'] === 'flood')).toBe(true);
      // Another source address is not affected.
      const other = await new RawClient(port, '127.0.0.3').open();
      other.send({
        confirmable: true,
        code: 'POST',
        messageId: 1,
        token: Buffer.from([1]),
        options: [{ name: 'Uri-Path', value: Buffer.from('r') }],
        payload: Buffer.from('x'),
      });
      expect((await other.next()).msg.code).toBe('2.04');
      await other.close();
    } finally {
      await raw.close();
    }
  });
});

describe('rate limit per source address (regression: keyed by address:port, bypassed by fresh ports)', () => {
  it('answers 4.29 to requests beyond the rate even when each comes from a fresh source port', async () => {
    const be = await TestBackend.start();
    const g = await startGateway({
      listeners: [{ name: 'c', protocol: 'coap', host: '127.0.0.1', port: 0, coap: { requestsPerSecond: 10, burst: 20 } }],
      pools: [{ name: 'be', endpoints: [{ url: be.url }] }],
      routes: [{ match: { address: '#' }, pool: 'be' }],
    });
    try {
      const n = 200;
      const t0 = Date.now();
      const answers: ParsedPacket[] = [];
      for (let i = 0; i < n; i += 20) answers.push(...(await Promise.all(Array.from({ length: 20 }, (_, j) => oneShot(g.port('c'), i + j)))));
      const seconds = (Date.now() - t0) / 1000;
      const served = answers.filter((a) => a.code === '2.04').length;
      const limited = answers.filter((a) => a.code === '4.29');
      // At most the burst plus what the rate refilled while sending; every other request is refused.
      expect(served).toBeLessThanOrEqual(20 + Math.ceil(10 * seconds) + 1);
      expect(served + limited.length).toBe(n);
      expect(uintOf(opt(limited[0]!, 'Max-Age'))).toBeGreaterThanOrEqual(1);
      expect(be.requests).toHaveLength(served);
      // Reports count the address, not each port: one a second, and one per burst (20) refused.
      const reports = g.logs.filter((l) => l['event'] === 'security' && l['kind'] === 'flood').length;
      expect(reports).toBeLessThanOrEqual(Math.ceil(seconds) + Math.ceil(limited.length / 20) + 1);
    } finally {
      await g.stop();
      await be.close();
    }
  });
});

/** Sends one NON request from a fresh UDP socket (a fresh source port) and resolves with the answer. */
describe('flood from one address', () => {
  it('is banned by violation scoring within seconds, then gets no answer', async () => {
    const be = await TestBackend.start();
    // Loopback scored (exempt: []); default scoring: a flood report weighs 5, 100 bans.
    const g = await startGateway({
      listeners: [{ name: 'c', protocol: 'coap', host: '127.0.0.1', port: 0, coap: { requestsPerSecond: 5, burst: 5 } }],
      pools: [{ name: 'be', endpoints: [{ url: be.url }] }],
      routes: [{ match: { address: '#' }, pool: 'be' }],
      guard: { exempt: [] },
    });
    const sock = createSocket('udp4');
    try {
      await new Promise<void>((r) => sock.bind(0, '127.0.0.10', r));
      const banned = () => g.logs.some((l) => l['event'] === 'ban' && (l['ban'] as { value?: string } | undefined)?.value === '127.0.0.10');
      // 50 NON requests every 100 ms (500/s, 100 times the rate); before, one report a second took 20 s to ban.
      let mid = 0;
      const t0 = Date.now();
      while (!banned() && Date.now() - t0 < 10_000) {
        for (let k = 0; k < 50; k++) {
          mid = (mid + 1) & 0xffff;
          const req = coapPacket.generate({
            confirmable: false,
            code: 'POST',
            messageId: mid,
            token: Buffer.from([1]),
            options: [{ name: 'Uri-Path', value: Buffer.from('p') }],
          });
          sock.send(req, g.port('c'), '127.0.0.1');
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(banned()).toBe(true);
      // The scored reports are those of the flood itself: far fewer than one per refused request.
      expect(g.logs.filter((l) => l['event'] === 'security' && l['kind'] === 'flood').length).toBeLessThan(60);
      // Banned: a request now gets no answer at all (dropped before decoding). Answers sent before the ban drain first.
      await new Promise((r) => setTimeout(r, 300));
      const answered = new Promise((r) => sock.once('message', r));
      sock.send(
        coapPacket.generate({
          confirmable: false,
          code: 'POST',
          messageId: 7,
          token: Buffer.from([2]),
          options: [{ name: 'Uri-Path', value: Buffer.from('p') }],
        }),
        g.port('c'),
        '127.0.0.1',
      );
      expect(await Promise.race([answered.then(() => 'answered'), new Promise((r) => setTimeout(() => r('silent'), 500))])).toBe('silent');
    } finally {
      sock.close();
      await g.stop();
      await be.close();
    }
  });
});

async function oneShot(port: number, i: number): Promise<ParsedPacket> {
  const sock = createSocket('udp4');
  try {
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const answer = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to request ${i}`)), 5000);
      sock.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
    sock.send(
      coapPacket.generate({
        confirmable: false,
        code: 'POST',
        messageId: i,
        token: Buffer.from([i & 0xff, i >> 8]),
        options: [{ name: 'Uri-Path', value: Buffer.from('p') }],
        payload: Buffer.from('x'),
      }),
      port,
      '127.0.0.1',
    );
    return coapPacket.parse(await answer);
  } finally {
    sock.close();
  }
}

describe('amplification (RFC 9175 §2.4)', () => {
  it('caps replies to an unverified source at 3x the request, until it echoes the Echo option', async () => {
    // Its own source address: 127.0.0.1 may still be over its rate from the test above.
    const raw = await new RawClient(port, '127.0.0.2').open();
    try {
      const req: Packet = {
        confirmable: true,
        code: 'GET',
        messageId: 300,
        token: Buffer.from('aa', 'hex'),
        options: [
          { name: 'Uri-Path', value: Buffer.from('reply') },
          { name: 'Uri-Path', value: Buffer.from('big') },
        ],
      };
      const reqBytes = coapPacket.generate(req).length;
      raw.send(req);
      const first = await raw.next();
      expect(first.msg.code).toBe('2.05');
      expect(first.raw.length).toBeLessThanOrEqual(3 * reqBytes);
      const block2 = uintOf(opt(first.msg, 'Block2'))!;
      expect(block2 & 8).toBe(8); // more blocks follow
      expect(uintOf(opt(first.msg, 'Size2'))).toBe(BIG.length);
      const echo = first.msg.options.find((o) => String(o.name) === '252')?.value;
      expect(echo).toBeDefined();
      // The next block request carries the Echo value: the source is verified and gets full 1024-byte blocks.
      raw.send({
        confirmable: true,
        code: 'GET',
        messageId: 301,
        token: Buffer.from('ab', 'hex'),
        options: [
          { name: 'Uri-Path', value: Buffer.from('reply') },
          { name: 'Uri-Path', value: Buffer.from('big') },
          { name: 'Block2', value: Buffer.from([(1 << 4) | 6]) },
          { name: '252', value: echo! },
        ],
      });
      const second = await raw.next();
      expect(second.msg.code).toBe('2.05');
      expect(second.msg.payload.length).toBe(1024);
      expect(backend.requests.filter((r) => r.url === '/reply/reply/big')).toHaveLength(1);
    } finally {
      await raw.close();
    }
  });
});

describe('back-pressure per source', () => {
  it('answers 5.03 with Max-Age beyond limits.maxInflight requests in flight', async () => {
    const slow = await TestBackend.start(() => ({ status: 200, delayMs: 300 }));
    const g = await startGateway({
      listeners: [{ name: 'c', protocol: 'coap', host: '127.0.0.1', port: 0, limits: { maxInflight: 2 } }],
      pools: [{ name: 'be', endpoints: [{ url: slow.url }] }],
      routes: [{ match: { address: '#' }, pool: 'be' }],
    });
    const raw = await new RawClient(g.port('c')).open();
    try {
      for (let i = 0; i < 3; i++)
        raw.send({
          confirmable: false,
          code: 'POST',
          messageId: 40 + i,
          token: Buffer.from([i]),
          options: [{ name: 'Uri-Path', value: Buffer.from('x') }],
          payload: Buffer.from('p'),
        });
      const first = await raw.next();
      expect(first.msg.code).toBe('5.03');
      expect(first.msg.token[0]).toBe(2);
      expect(uintOf(opt(first.msg, 'Max-Age'))).toBe(1);
      const rest = [await raw.next(), await raw.next()].map((m) => m.msg.code);
      expect(rest).toEqual(['2.04', '2.04']);
      expect(slow.requests).toHaveLength(2);
    } finally {
      await raw.close();
      await g.stop();
      await slow.close();
    }
  });
});

describe('IPv6', () => {
  it('serves a listener bound to ::1 and names the client [address]:port', async () => {
    const be = await TestBackend.start();
    const g = await startGateway({
      listeners: [{ name: 'c6', protocol: 'coap', host: '::1', port: 0 }],
      pools: [{ name: 'be', endpoints: [{ url: be.url }] }],
      routes: [{ match: { address: '#' }, pool: 'be', request: { path: '/v6/{address}' } }],
    });
    const sock = createSocket('udp6');
    try {
      await new Promise<void>((r) => sock.bind(0, '::1', r));
      const answer = new Promise<Buffer>((resolve) => sock.once('message', resolve));
      sock.send(
        coapPacket.generate({
          confirmable: true,
          code: 'POST',
          messageId: 5,
          token: Buffer.from([5]),
          options: [{ name: 'Uri-Path', value: Buffer.from('six') }],
          payload: Buffer.from('v6'),
        }),
        g.port('c6'),
        '::1',
      );
      expect(coapPacket.parse(await answer).code).toBe('2.04');
      expect(be.requests[0]!.url).toBe('/v6/six');
      expect(be.requests[0]!.headers['x-thinggate-client-id']).toBe(`[::1]:${sock.address().port}`);
    } finally {
      sock.close();
      await g.stop();
      await be.close();
    }
  });
});

describe('draining stop', () => {
  it('answers an in-flight request before closing', async () => {
    const slowBackend = await TestBackend.start(() => ({ status: 200, body: 'done', delayMs: 300 }));
    const g = await startGateway({
      listeners: [{ name: 'c', protocol: 'coap', host: '127.0.0.1', port: 0 }],
      pools: [{ name: 'be', endpoints: [{ url: slowBackend.url }] }],
      routes: [{ match: { address: '#' }, pool: 'be', request: { path: '/x', reply: true } }],
    });
    const raw = await new RawClient(g.port('c')).open();
    try {
      raw.send({
        confirmable: true,
        code: 'POST',
        messageId: 9,
        token: Buffer.from([9]),
        options: [{ name: 'Uri-Path', value: Buffer.from('x') }],
        payload: Buffer.from('p'),
      });
      await slowBackend.waitFor(1);
      const stopped = g.gateway.listener('c')!.stop({ drain: true, timeoutMs: 5000 });
      const { msg } = await raw.next();
      expect(msg.code).toBe('2.05');
      expect(msg.payload.toString()).toBe('done');
      await stopped;
      expect(g.gateway.listener('c')!.address()).toBeNull();
    } finally {
      await raw.close();
      await g.stop();
      await slowBackend.close();
    }
  });
});

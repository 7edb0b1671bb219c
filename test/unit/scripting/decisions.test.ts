/**
 * The script API inside the isolate: every decision helper, hand-built
 * decisions, fan-out, the msg view, ctx.state/log/now, onResponse and
 * onConnect, and how malformed decisions are refused.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ScriptDir, build, configFor, envelope, firstDecision, fromClient, replyText } from './support.js';

const dir = new ScriptDir();
afterAll(() => dir.remove());

const API = dir.write(
  'api.js',
  `
export function onMessage(msg, ctx) {
  switch (msg.address) {
    case 'r/route': return route('p', { method: 'put', path: '/x/' + msg.clientId, headers: { 'X-A': 'b', n: 1 }, body: { v: msg.json().v }, key: 'k', reply: true });
    case 'r/default-pool': return route();
    case 'r/reply': return reply('pong', { contentType: 'text/x', code: 201 });
    case 'r/reply-bytes': return reply(new Uint8Array([1, 2, 255]));
    case 'r/drop': return drop('not needed');
    case 'r/reject': return reject('nope', 403);
    case 'r/publish': return publish('devices/a', { on: true }, { qos: 1, retain: true, headers: { h: 'v' } });
    case 'r/hand-built': return { action: 'reject', reason: 'by hand' };
    case 'r/fan-out': return [publish('a/1', 'x'), publish('a/2', 'y'), route('p')];
    case 'r/none': return [];
    case 'r/view': return reply({
      id: msg.id, protocol: msg.protocol, listener: msg.listener, clientId: msg.clientId, identity: msg.identity,
      address: msg.address, method: msg.method, headers: msg.headers, contentType: msg.contentType, delivery: msg.delivery,
      receivedAt: msg.receivedAt, isBytes: msg.payload instanceof Uint8Array, len: msg.payload.length, text: msg.text(),
      frozen: Object.isFrozen(msg), correlationId: msg.correlationId, replyTo: msg.replyTo, now: ctx.now(),
    });
    case 'r/mutate': { try { msg.address = 'x'; } catch (e) { return reply(String(e instanceof TypeError)); } return reply('mutated'); }
    case 'r/utf8': return reply(new TextDecoder().decode(new TextEncoder().encode(msg.text())) + '|' + msg.text().length);
    case 'r/state': {
      const n = (ctx.state.get('n') ?? 0) + 1;
      ctx.state.set('n', n);
      return reply({ n, has: ctx.state.has('n'), size: ctx.state.size });
    }
    case 'r/sum': { let sum = 0; for (const b of msg.payload) sum += b; return reply({ len: msg.payload.length, sum, first: msg.payload[0], last: msg.payload[msg.payload.length - 1] }); }
    case 'r/echo': return reply(msg.text() + '|' + msg.json().length);
    case 'r/same': return reply(String(msg.payload === msg.payload && msg.text() === msg.text()));
    case 'r/log': ctx.log.info('hello', { a: 1 }); ctx.log.warn('careful'); ctx.log.error('bad'); return drop();
  }
  return null;
}
export function onResponse(res, msg) {
  if (res.status === 418) return reject('teapot: ' + res.text(), 409);
  if (res.status === 204) return undefined;
  return reply({ got: res.json(), for: msg.clientId, type: res.headers['content-type'] }, { code: 202 });
}
export function onConnect(client) {
  if (client.clientId === 'bad') return reject('go away');
  if (client.clientId === 'token') return client.password === 'let-me-in' ? accept({ attributes: { tier: 'gold' } }) : reject('bad token', 401);
  if (client.clientId === 'false') return false;
  return undefined;
}
`,
);
const INVALID = dir.write(
  'invalid.js',
  `
export function onMessage(msg) {
  switch (msg.address) {
    case 'i/unknown': return { action: 'explode' };
    case 'i/number': return 42;
    case 'i/nothing': return undefined;
    case 'i/promise': return Promise.resolve(drop());
    case 'i/async': return (async () => drop())();
    case 'i/bad-pool': return route(5);
    case 'i/bad-path': return route('p', { path: 'no-slash' });
    case 'i/bad-header': return route('p', { headers: { 'bad name': 'x' } });
    case 'i/bad-qos': return publish('t', 'x', { qos: 3 });
    case 'i/wildcard': return publish('t/#', 'x');
    case 'i/reject-code': return reject('x', 500);
    case 'i/no-reason': return { action: 'reject' };
    case 'i/function-body': return route('p', { body: () => 1 });
    case 'i/cyclic': { const o = {}; o.o = o; return reply(o); }
    case 'i/too-many': return Array.from({ length: 65 }, () => drop());
    case 'i/class': return new (class { constructor() { this.action = 'drop'; } })();
  }
}
`,
);

const { host, log } = await build(configFor(dir, [API, INVALID]));
afterAll(() => host.close());

async function decide(address: string, payload = '', extra = {}) {
  const r = await host.onMessage(address.startsWith('i/') ? INVALID : API, envelope(address, payload, extra));
  if (!r.ok) throw new Error(`${r.code}: ${r.reason}`);
  return r.decisions;
}

describe('decision helpers', () => {
  it('route() with every request option', async () => {
    const [d] = await decide('r/route', '{"v":7}');
    expect(d).toMatchObject({ action: 'route', pool: 'p', method: 'PUT', path: '/x/dev-1', key: 'k', reply: true });
    expect((d as { headers: unknown }).headers).toEqual({ 'x-a': 'b', n: '1', 'content-type': 'application/json' });
    expect(Buffer.from((d as { body: Buffer }).body).toString()).toBe('{"v":7}');
  });

  it('route() without a pool leaves it to the route configuration', async () => {
    expect(await decide('r/default-pool')).toEqual([{ action: 'route' }]);
  });

  it('reply() with text and with bytes', async () => {
    expect(await decide('r/reply')).toEqual([{ action: 'reply', payload: 'pong', contentType: 'text/x', code: 201 }]);
    const [b] = await decide('r/reply-bytes');
    expect([...(b as { payload: Uint8Array }).payload]).toEqual([1, 2, 255]);
  });

  it('drop(), reject(), publish() and a hand-built decision', async () => {
    expect(await decide('r/drop')).toEqual([{ action: 'drop', reason: 'not needed' }]);
    expect(await decide('r/reject')).toEqual([{ action: 'reject', reason: 'nope', code: 403 }]);
    const [p] = await decide('r/publish');
    expect(p).toMatchObject({ action: 'publish', topic: 'devices/a', qos: 1, retain: true, headers: { h: 'v' }, contentType: 'application/json' });
    expect(Buffer.from((p as { payload: Buffer }).payload).toString()).toBe('{"on":true}');
    expect(await decide('r/hand-built')).toEqual([{ action: 'reject', reason: 'by hand' }]);
  });

  it('fan-out returns every decision in order; an empty list is allowed', async () => {
    expect((await decide('r/fan-out')).map((d) => d.action)).toEqual(['publish', 'publish', 'route']);
    expect(await decide('r/none')).toEqual([]);
  });
});

describe('msg and ctx', () => {
  it('msg is a read-only view of the envelope', async () => {
    const e = envelope('r/view', 'héllo', {
      contentType: 'text/plain',
      headers: { 'x-h': '1' },
      correlationId: 'c1',
      replyTo: 'replies/1',
      source: { clientId: 'dev-9', remoteAddress: '10.0.0.1', identity: { principal: 'p9', method: 'password', attributes: { t: 'acme' } } },
    });
    const r = await host.onMessage(API, e);
    expect(r.ok).toBe(true);
    const view = JSON.parse(replyText(r));
    expect(view).toMatchObject({
      id: e.id,
      protocol: 'mqtt',
      listener: 'mqtt',
      clientId: 'dev-9',
      identity: { principal: 'p9', method: 'password', attributes: { t: 'acme' } },
      address: 'r/view',
      method: 'PUBLISH',
      headers: { 'x-h': '1' },
      contentType: 'text/plain',
      delivery: 'at-least-once',
      receivedAt: e.receivedAt,
      isBytes: true,
      len: 6,
      text: 'héllo',
      frozen: true,
      correlationId: 'c1',
      replyTo: 'replies/1',
    });
    expect(typeof view.now).toBe('number');
    const [m] = await decide('r/mutate');
    expect(Buffer.from((m as { payload: Buffer }).payload).toString()).toBe('true');
  });

  it.each([
    ['small', 300],
    ['large', 40_000],
  ])('binary payloads arrive byte for byte (%s)', async (_name, size) => {
    const payload = Buffer.alloc(size, 0);
    for (let i = 0; i < size; i++) payload[i] = (i * 131 + 7) & 0xff;
    const sum = payload.reduce((a, b) => a + b, 0);
    // Several messages in one call, so each message's slice is checked too.
    const rs = await Promise.all([1, 2, 3].map(() => host.onMessage(API, envelope('r/sum', payload))));
    for (const r of rs) {
      const out = JSON.parse(replyText(r));
      expect(out).toEqual({ len: size, sum, first: payload[0], last: payload[size - 1] });
    }
  });

  it.each([
    ['small', 50],
    ['large', 9_000],
  ])('each message reads its own payload when others in its call read none (%s)', async (_name, size) => {
    // The payload is copied out of the call's bytes on first read; messages that never read it must not shift the rest.
    const bytes = (seed: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * seed + seed) & 0xff));
    const sent = [1, 2, 3, 4, 5, 6].map((seed) => ({ payload: bytes(seed), address: seed % 2 === 0 ? 'r/sum' : 'r/drop' }));
    const rs = await Promise.all(sent.map((m) => host.onMessage(API, envelope(m.address, m.payload))));
    rs.forEach((r, i) => {
      const { payload, address } = sent[i]!;
      const d = firstDecision(r);
      if (address === 'r/drop') return expect(d.action).toBe('drop');
      const sum = payload.reduce((a, b) => a + b, 0);
      expect(JSON.parse(Buffer.from(d.payload!).toString())).toEqual({ len: size, sum, first: payload[0], last: payload[size - 1] });
    });
    const [same] = await decide('r/same', 'abc');
    expect(Buffer.from((same as { payload: Buffer }).payload).toString()).toBe('true');
  });

  it.each([
    ['small', 1],
    ['large', 9_000],
  ])('text() and json() decode ASCII and UTF-8 payloads alike in one call (%s)', async (_name, pad) => {
    const texts = ['plain', 'ünïcödé €', '😀 astral', 'x'.repeat(pad), `é${'y'.repeat(pad)}`].map((t) => JSON.stringify(t));
    const rs = await Promise.all(texts.map((t) => host.onMessage(API, envelope('r/echo', t))));
    rs.forEach((r, i) => {
      const d = firstDecision(r);
      expect(Buffer.from(d.payload!).toString()).toBe(`${texts[i]}|${(JSON.parse(texts[i]!) as string).length}`);
    });
  });

  it('messages of several connections in one call each see their own source, and get their own decisions', async () => {
    // A call's messages share one entry per connection, and identical results travel once: neither may mix messages up.
    const a = { clientId: 'dev-a', remoteAddress: '10.0.0.1', identity: { principal: 'pa', method: 'password' as const, attributes: { t: 'a' } } };
    const b = { clientId: 'dev-b', remoteAddress: '10.0.0.2' };
    const c = { clientId: 'dev-c', remoteAddress: '10.0.0.3', identity: { principal: 'pc', method: 'certificate' as const, attributes: {} } };
    const sent = [
      envelope('r/view', '1', { source: a }),
      envelope('r/drop', '', { source: b }),
      envelope('r/view', '2', { source: a }),
      envelope('r/view', '3', { source: c }),
      envelope('r/drop', '', { source: a }),
      envelope('r/view', '4', { source: b, protocol: 'amqp', listener: 'amqp-1' }),
      envelope('r/drop', '', { source: c }),
    ];
    const rs = await Promise.all(sent.map((e) => host.onMessage(API, e)));
    rs.forEach((r, i) => {
      const e = sent[i]!;
      const d = firstDecision(r);
      if (e.address === 'r/drop') return expect(d).toEqual({ action: 'drop', reason: 'not needed' });
      const view = JSON.parse(Buffer.from(d.payload!).toString());
      expect(view).toMatchObject({ id: e.id, clientId: e.source.clientId, protocol: e.protocol, listener: e.listener, text: e.payload.toString() });
      expect(view.identity).toEqual(e.source.identity);
    });
  });

  it('TextEncoder/TextDecoder round-trip UTF-8 including astral characters', async () => {
    const [d] = await decide('r/utf8', 'a€😀');
    expect(Buffer.from((d as { payload: Buffer }).payload).toString()).toBe('a€😀|4');
  });

  it('ctx.state keeps values between messages', async () => {
    const a = await decide('r/state');
    const b = await decide('r/state');
    expect(JSON.parse(Buffer.from((a[0] as { payload: Buffer }).payload).toString())).toEqual({ n: 1, has: true, size: 1 });
    expect(JSON.parse(Buffer.from((b[0] as { payload: Buffer }).payload).toString())).toMatchObject({ n: 2 });
  });

  it('ctx.log writes to the gateway log tagged with the script', async () => {
    await decide('r/log');
    const lines = log.lines.filter((l) => l.scriptLog === true && l.script === API);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [30, 'hello {"a":1}'],
      [40, 'careful'],
      [50, 'bad'],
    ]);
  });
});

describe('onResponse and onConnect', () => {
  it('onResponse shapes the reply, can reject, or keeps the back-end response', async () => {
    const e = envelope('r/route', '{"v":1}');
    await host.onMessage(API, e);
    const shaped = await host.onResponse(API, { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"x":1}') }, e);
    expect(shaped).toMatchObject({ status: 202, contentType: 'application/json' });
    expect(JSON.parse((shaped as { payload: Buffer }).payload.toString())).toEqual({ got: { x: 1 }, for: 'dev-1', type: 'application/json' });
    expect(await host.onResponse(API, { status: 418, headers: {}, body: Buffer.from('short') }, e)).toMatchObject({ status: 409 });
    expect(await host.onResponse(API, { status: 204, headers: {}, body: Buffer.alloc(0) }, e)).toBeUndefined();
  });

  it('onResponse that throws is a script failure', async () => {
    const e = envelope('r/route', '{"v":1}');
    expect(await host.onResponse(API, { status: 200, headers: {}, body: Buffer.from('not json') }, e)).toMatchObject({
      ok: false,
      code: 'TG_ERR_SCRIPT_THREW',
    });
  });

  it('onConnect admits, refuses, checks a token and attaches attributes', async () => {
    const client = (clientId: string, password?: string) => ({
      protocol: 'mqtt' as const,
      listener: 'mqtt',
      clientId,
      remoteAddress: '127.0.0.1',
      ...(password !== undefined && { password: Buffer.from(password) }),
    });
    expect(await host.onConnect(client('ok'))).toEqual({ ok: true });
    expect(await host.onConnect(client('bad'))).toEqual({ ok: false, status: 403, reason: 'go away' });
    expect(await host.onConnect(client('false'))).toMatchObject({ ok: false, status: 403 });
    expect(await host.onConnect(client('token', 'nope'))).toEqual({ ok: false, status: 401, reason: 'bad token' });
    expect(await host.onConnect(client('token', 'let-me-in'))).toEqual({
      ok: true,
      identity: { principal: 'token', method: 'script', attributes: { tier: 'gold' } },
    });
  });
});

describe('invalid decisions are refused with TG_ERR_SCRIPT_INVALID_DECISION', () => {
  it.each([
    ['i/unknown', /unknown action "explode"/],
    ['i/number', /plain object/],
    ['i/nothing', /returned nothing/],
    ['i/promise', /synchronously/],
    ['i/async', /synchronously/],
    ['i/bad-pool', /'pool' must be a string/],
    ['i/bad-path', /path must start with '\/'/],
    ['i/bad-header', /not a valid token/],
    ['i/bad-qos', /'qos' must be an integer from 0 to 2/],
    ['i/wildcard', /no wildcards/],
    ['i/reject-code', /'code' must be an integer from 400 to 499/],
    ['i/no-reason', /'reason' is required/],
    ['i/function-body', /not JSON-serialisable/],
    ['i/cyclic', /not JSON-serialisable/],
    ['i/too-many', /at most 64 decisions/],
    ['i/class', /plain object/],
  ])('%s', async (address, reason) => {
    const r = await host.onMessage(INVALID, fromClient(`c-${address}`, address));
    expect(r).toMatchObject({ ok: false, code: 'TG_ERR_SCRIPT_INVALID_DECISION' });
    expect((r as { reason: string }).reason).toMatch(reason);
  });
});

/**
 * The AMQP 1.0 listener with rhea's client over real sockets: SASL PLAIN,
 * settlement outcomes, reply-to, pre-settled messages, credit limits and
 * southbound delivery.
 */
import { afterEach, describe, expect, it } from 'vitest';
import rhea, { type Connection, type EventContext, type Sender, type Receiver, type Message } from 'rhea';
import { connectionCondition, creditOf } from '../helpers/amqp.js';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

interface Client {
  readonly conn: Connection;
  close(): Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(extra: { limits?: object; amqp?: object; routes?: object[] } = {}): Promise<{ gw: TestGateway; backend: TestBackend; port: number }> {
  const backend = await TestBackend.start();
  cleanups.push(() => backend.close());
  const gw = await startGateway({
    listeners: [{ name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0, limits: { maxInflight: 16, ...extra.limits }, amqp: extra.amqp ?? {} }],
    pools: [{ name: 'ingest', endpoints: [{ url: backend.url }] }],
    routes: extra.routes ?? [
      { match: { address: 'rpc/#' }, pool: 'ingest', request: { method: 'POST', path: '/rpc/{address.1}', reply: true } },
      { match: { address: 'devices/#' }, target: 'devices' },
      { match: { address: '#' }, pool: 'ingest', request: { method: 'POST', path: '/m/{address}' } },
    ],
  });
  cleanups.push(() => gw.stop());
  return { gw, backend, port: gw.port('amqp') };
}

function connect(port: number, options: { username?: string; password?: string; id?: string } = {}): Promise<Client> {
  const container = rhea.create_container(options.id ? { id: options.id } : {});
  return new Promise((resolve, reject) => {
    const conn = container.connect({ port, host: '127.0.0.1', reconnect: false, ...options });
    const client: Client = {
      conn,
      close: () =>
        new Promise<void>((r) => {
          if (conn.is_closed() || !conn.is_open()) {
            conn.close();
            return r();
          }
          conn.once('connection_close', () => r());
          conn.once('disconnected', () => r());
          conn.close();
        }),
    };
    conn.once('connection_open', () => {
      cleanups.push(() => client.close());
      resolve(client);
    });
    conn.once('connection_error', (ctx: EventContext) => reject(new Error(`${connectionCondition(ctx) ?? 'connection error'}`)));
    conn.once('disconnected', (ctx: EventContext) => reject(ctx.error ?? new Error('disconnected')));
    container.on('error', () => undefined);
  });
}

function openSender(c: Client, address: string | undefined, options: object = {}): Promise<Sender> {
  return new Promise((resolve) => {
    const s = c.conn.open_sender({ target: address === undefined ? {} : { address }, ...options });
    s.once('sendable', () => resolve(s));
  });
}

function openReceiver(c: Client, address: string, credit = 10): Promise<Receiver> {
  return new Promise((resolve) => {
    const r = c.conn.open_receiver({ source: { address }, credit_window: credit });
    r.once('receiver_open', () => resolve(r));
  });
}

/** Sends n messages and resolves with the count of each settlement outcome once all n are settled. */
function sendAndCount(sender: Sender, n: number, make: (i: number) => Message): Promise<Record<string, number>> {
  const counts: Record<string, number> = { accepted: 0, rejected: 0, released: 0, modified: 0 };
  const conditions: string[] = [];
  return new Promise((resolve) => {
    let sent = 0;
    let settled = 0;
    const done = (kind: string) => (ctx: EventContext) => {
      counts[kind]!++;
      const err = (ctx.delivery?.remote_state as { error?: { condition?: string } } | undefined)?.error;
      if (err?.condition) conditions.push(err.condition);
      if (++settled === n) resolve({ ...counts, conditions: conditions as unknown as number });
    };
    sender.on('accepted', done('accepted'));
    sender.on('rejected', done('rejected'));
    sender.on('released', done('released'));
    sender.on('modified', done('modified'));
    const pump = (): void => {
      while (sent < n && sender.sendable()) sender.send(make(sent++));
    };
    sender.on('sendable', pump);
    pump();
  });
}

describe('amqp listener (rhea client)', () => {
  it('accepts N messages with SASL PLAIN once the back-end answers 2xx, one disposition each', async () => {
    const { backend, port, gw } = await setup();
    const c = await connect(port, { username: 'dev-1', password: 's3cret', id: 'device-one' });
    const s = await openSender(c, 'telemetry/dev-1');
    const n = 200;
    const counts = await sendAndCount(s, n, (i) => ({ body: rhea.message.data_section(Buffer.from(`m${i}`)), application_properties: { Seq: i } }));
    expect(counts).toMatchObject({ accepted: n, rejected: 0, released: 0 });
    expect(backend.requests).toHaveLength(n);
    const first = backend.requests[0]!;
    expect(first.url).toBe('/m/telemetry/dev-1');
    expect(first.headers['x-thinggate-client-id']).toBe('device-one');
    // No admission step verified the PLAIN user: the connection is anonymous (test/integration/identity.test.ts).
    expect(first.headers['x-thinggate-identity']).toBeUndefined();
    expect(first.headers['x-thinggate-protocol']).toBe('amqp');
    expect(new Set(backend.requests.map((r) => r.body.toString())).size).toBe(n);
    // The password never reaches the log.
    expect(JSON.stringify(gw.logs)).not.toContain('s3cret');
  });

  it('rejects with an amqp: condition on a 4xx and releases when the back-end is unavailable', async () => {
    const { backend, port } = await setup();
    backend.responder = (req) => (req.url.includes('bad') ? { status: 404, body: 'no such device' } : { status: 503, body: 'down' });
    const c = await connect(port, { username: 'dev', password: 'pw' });
    const bad = await openSender(c, 'telemetry/bad');
    const rejected = (await sendAndCount(bad, 3, () => ({ body: 'x' }))) as Record<string, unknown>;
    expect(rejected).toMatchObject({ rejected: 3, accepted: 0 });
    expect(rejected.conditions).toEqual(['amqp:not-found', 'amqp:not-found', 'amqp:not-found']);
    const down = await openSender(c, 'telemetry/down');
    const released = await sendAndCount(down, 3, () => ({ body: 'x' }));
    expect(released).toMatchObject({ released: 3, accepted: 0, rejected: 0 });
  });

  it('releases every delivery when all back-ends are down', async () => {
    const { backend, port } = await setup();
    await backend.close();
    const c = await connect(port, { username: 'dev', password: 'pw' });
    const s = await openSender(c, 'telemetry/x');
    const counts = await sendAndCount(s, 5, () => ({ body: 'x' }));
    expect(counts).toMatchObject({ released: 5, accepted: 0 });
  });

  it('settles unavailable outcomes as modified with delivery-failed when configured', async () => {
    const { backend, port } = await setup({ amqp: { unavailableOutcome: 'modified' } });
    backend.responder = () => ({ status: 503 });
    const c = await connect(port);
    const s = await openSender(c, 'telemetry/x', { treat_modified_as_released: false });
    const modified: boolean[] = [];
    s.on('modified', (ctx: EventContext) => modified.push((ctx.delivery?.remote_state as { delivery_failed?: boolean } | undefined)?.delivery_failed === true));
    const counts = await sendAndCount(s, 2, () => ({ body: 'x' }));
    expect(counts).toMatchObject({ modified: 2 });
    expect(modified).toEqual([true, true]);
  });

  it('sends the back-end response to the reply-to link with the request correlation', async () => {
    const { backend, port } = await setup();
    backend.responder = (req) => ({ status: 200, body: `answer to ${req.body.toString()}`, headers: { 'content-type': 'text/plain' } });
    const c = await connect(port, { username: 'dev', password: 'pw' });
    const replies = await openReceiver(c, 'replies/dev');
    const got = new Promise<Message>((r) => replies.once('message', (ctx: EventContext) => r(ctx.message!)));
    const s = await openSender(c, 'rpc/ping');
    s.send({ body: 'ping', reply_to: 'replies/dev', message_id: 'req-1' });
    const reply = await got;
    expect(Buffer.from((reply.body as { content: Buffer }).content).toString()).toBe('answer to ping');
    expect(reply.correlation_id).toBe('req-1');
    expect(reply.application_properties?.status).toBe(200);
    expect(backend.requests[0]!.headers['x-thinggate-reply-to']).toBe('replies/dev');
  });

  it('forwards pre-settled messages (at most once) to the back-end', async () => {
    const { backend, port } = await setup();
    const c = await connect(port);
    const s = await openSender(c, 'telemetry/fire', { snd_settle_mode: 1 });
    for (let i = 0; i < 20; i++) s.send({ body: `p${i}` });
    await backend.waitFor(20);
    expect(backend.requests.map((r) => r.body.toString()).sort()).toContain('p19');
  });

  it('takes the address from "to" on an anonymous link', async () => {
    const { backend, port } = await setup();
    const c = await connect(port);
    const s = await openSender(c, undefined);
    const counts = await sendAndCount(s, 2, (i) => ({ to: `telemetry/anon-${i}`, body: 'x' }));
    expect(counts).toMatchObject({ accepted: 2 });
    expect(backend.requests.map((r) => r.url).sort()).toEqual(['/m/telemetry/anon-0', '/m/telemetry/anon-1']);
  });

  it('requires SASL when ANONYMOUS is not offered', async () => {
    const { gw, port } = await setup({ amqp: { saslMechanisms: ['PLAIN'] } });
    await expect(connect(port)).rejects.toBeDefined();
    const ok = await connect(port, { username: 'dev', password: 'pw' });
    expect(ok.conn.is_open()).toBe(true);
    expect(gw.logs.some((l) => l.event === 'security' && String(l.detail).includes('SASL'))).toBe(true);
  });

  it('rejects a message in a format other than 0 with amqp:not-implemented', async () => {
    const { backend, port } = await setup();
    const c = await connect(port);
    const s = await openSender(c, 'telemetry/fmt');
    const counts = (await sendAndCount(s, 1, () => Buffer.from('opaque') as unknown as Message)) as Record<string, unknown>;
    expect(counts).toMatchObject({ accepted: 1 });
    const raw = new Promise<string | undefined>((r) =>
      s.once('rejected', (ctx: EventContext) => r((ctx.delivery?.remote_state as { error?: { condition?: string } } | undefined)?.error?.condition)),
    );
    (s as unknown as { send: (m: Buffer, tag: undefined, format: number) => void }).send(Buffer.from('opaque'), undefined, 0x1234);
    expect(await raw).toBe('amqp:not-implemented');
    expect(backend.requests).toHaveLength(1);
  });

  it('rejects a message with no address at all with amqp:invalid-field', async () => {
    const { backend, port } = await setup();
    const c = await connect(port);
    const s = await openSender(c, undefined);
    const counts = (await sendAndCount(s, 1, () => ({ body: 'x' }))) as Record<string, unknown>;
    expect(counts).toMatchObject({ rejected: 1, conditions: ['amqp:invalid-field'] });
    expect(backend.requests).toHaveLength(0);
  });

  it('never grants more credit than maxInflight while the back-end is slow', async () => {
    const { backend, port } = await setup({ limits: { maxInflight: 4 } });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    backend.responder = async () => {
      await gate;
      return { status: 200 };
    };
    const c = await connect(port);
    const s = await openSender(c, 'telemetry/slow');
    let maxCredit = 0;
    s.on('sender_flow', () => (maxCredit = Math.max(maxCredit, creditOf(s))));
    maxCredit = Math.max(maxCredit, creditOf(s));
    const all = sendAndCount(s, 12, () => ({ body: 'x' }));
    await backend.waitFor(4);
    // Four in flight at the back-end and no credit left: the device is held back, nothing is buffered.
    expect(creditOf(s)).toBe(0);
    expect(backend.requests).toHaveLength(4);
    release();
    expect(await all).toMatchObject({ accepted: 12 });
    expect(maxCredit).toBeLessThanOrEqual(4);
  });

  it('delivers target: devices messages to a device receiver link (southbound)', async () => {
    const { port } = await setup();
    const device = await connect(port, { id: 'sub-device' });
    const r = await openReceiver(device, 'devices/sub-device/cmd');
    const got = new Promise<Message>((res) => r.once('message', (ctx: EventContext) => res(ctx.message!)));
    const app = await connect(port, { id: 'app' });
    const s = await openSender(app, 'devices/sub-device/cmd');
    const counts = await sendAndCount(s, 1, () => ({ body: rhea.message.data_section(Buffer.from('reboot')), content_type: 'text/plain' }));
    expect(counts).toMatchObject({ accepted: 1 });
    const m = await got;
    expect(Buffer.from((m.body as { content: Buffer }).content).toString()).toBe('reboot');
    expect(m.to).toBe('devices/sub-device/cmd');
  });

  it('refuses a connection the admission rejects: open, then close with amqp:unauthorized-access', async () => {
    const { port, gw } = await setup();
    const pipeline = (gw.gateway as unknown as { pipeline: { admit: (c: { username?: string; password?: Buffer }) => Promise<unknown> } }).pipeline;
    const seen: Array<{ username?: string; password?: string }> = [];
    pipeline.admit = async (client) => {
      seen.push({ username: client.username, password: client.password?.toString() });
      return client.password?.toString() === 'right' ? { ok: true } : { ok: false, status: 401, reason: 'bad credentials' };
    };
    const container = rhea.create_container();
    container.on('error', () => undefined);
    const conn = container.connect({ port, host: '127.0.0.1', username: 'dev', password: 'wrong', reconnect: false });
    const condition = await new Promise<string | undefined>((r) => conn.once('connection_error', (ctx: EventContext) => r(connectionCondition(ctx))));
    expect(condition).toBe('amqp:unauthorized-access');
    expect(seen).toEqual([{ username: 'dev', password: 'wrong' }]);
    const ok = await connect(port, { username: 'dev', password: 'right' });
    expect(ok.conn.is_open()).toBe(true);
    expect(gw.logs.some((l) => l.event === 'security' && l.kind === 'auth-failure')).toBe(true);
  });
});

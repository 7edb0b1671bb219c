/**
 * Bad input on the AMQP listener, over raw sockets: random bytes after a
 * valid protocol header, truncated and oversize frames, undecodable
 * performatives, session and link floods, silent sockets. Each offending
 * connection is closed and reported; the gateway keeps serving others.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect as tcpConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import rhea, { type Connection, type EventContext } from 'rhea';
import { connectionCondition } from '../helpers/amqp.js';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const AMQP_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]);
const SASL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0]);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(limits: object = {}, amqp: object = {}): Promise<{ gw: TestGateway; backend: TestBackend; port: number }> {
  const backend = await TestBackend.start();
  cleanups.push(() => backend.close());
  const gw = await startGateway({
    listeners: [{ name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0, limits: { maxPacketBytes: 4096, connectTimeoutMs: 2000, ...limits }, amqp }],
    pools: [{ name: 'ingest', endpoints: [{ url: backend.url }] }],
    routes: [{ match: { address: '#' }, pool: 'ingest' }],
  });
  cleanups.push(() => gw.stop());
  return { gw, backend, port: gw.port('amqp') };
}

interface RawResult {
  readonly received: Buffer;
}

/** Writes `chunks` on a raw socket and resolves with everything received once the server closes it. */
function raw(port: number, chunks: Buffer[], keepOpen = true): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const sock: Socket = tcpConnect(port, '127.0.0.1');
    const got: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('server did not close the connection'));
    }, 8000);
    sock.on('data', (d) => got.push(d));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(got) });
    });
    sock.on('connect', () => {
      for (const c of chunks) sock.write(c);
      if (!keepOpen) sock.end();
    });
  });
}

/** A working client still gets its message accepted. */
async function stillServes(port: number, backend: TestBackend): Promise<void> {
  const container = rhea.create_container();
  container.on('error', () => undefined);
  const conn: Connection = container.connect({ port, host: '127.0.0.1', reconnect: false, username: 'ok', password: 'ok' });
  const outcome = await new Promise<string>((resolve) => {
    const s = conn.open_sender({ target: { address: 'telemetry/ok' } });
    s.once('sendable', () => s.send({ body: 'still here' }));
    s.once('accepted', () => resolve('accepted'));
    s.once('rejected', () => resolve('rejected'));
    s.once('released', () => resolve('released'));
  });
  expect(outcome).toBe('accepted');
  expect(backend.requests.at(-1)!.body.toString()).toBe('still here');
  await new Promise<void>((r) => {
    conn.once('connection_close', () => r());
    conn.close();
  });
}

function securityEvents(gw: TestGateway, kind?: string): Array<Record<string, unknown>> {
  return gw.logs.filter((l) => l.event === 'security' && (kind === undefined || l.kind === kind));
}

/** An AMQP frame: size, doff 2, type, channel, body. */
function frame(body: Buffer, type = 0, channel = 0): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(8 + body.length, 0);
  h[4] = 2;
  h[5] = type;
  h.writeUInt16BE(channel, 6);
  return Buffer.concat([h, body]);
}

describe('amqp listener guarding', () => {
  it('closes a connection sending random bytes after the AMQP header, and serves others', async () => {
    const { gw, backend, port } = await setup();
    for (let i = 0; i < 5; i++) await raw(port, [AMQP_HEADER, randomBytes(300)]);
    expect(securityEvents(gw).length).toBeGreaterThanOrEqual(5);
    await stillServes(port, backend);
  });

  it('closes a connection sending random bytes after the SASL header', async () => {
    const { gw, backend, port } = await setup();
    for (let i = 0; i < 5; i++) await raw(port, [SASL_HEADER, randomBytes(300)]);
    expect(securityEvents(gw).length).toBeGreaterThanOrEqual(5);
    await stillServes(port, backend);
  });

  it('closes a well-framed but undecodable performative with a close frame carrying an error', async () => {
    const { gw, backend, port } = await setup();
    // open(container-id "x"): described list (AMQP 1.0 §2.7.1), then a begin whose list claims more bytes than it has.
    const open = frame(Buffer.from([0x00, 0x53, 0x10, 0xc0, 0x04, 0x01, 0xa1, 0x01, 0x78]));
    const badBegin = frame(Buffer.from([0x00, 0x53, 0x11, 0xc0, 0xff, 0x04, 0x40, 0x40]));
    const r = await raw(port, [AMQP_HEADER, open, badBegin]);
    expect(r.received.subarray(0, 8).equals(AMQP_HEADER)).toBe(true);
    expect(r.received.toString('latin1')).toMatch(/amqp:(decode-error|connection:framing-error)/);
    expect(securityEvents(gw, 'malformed-packet')).toHaveLength(1);
    await stillServes(port, backend);
  });

  it('closes an open whose container-id overruns its list at once (a fuzzing finding), not at a deadline', async () => {
    // rhea cut the 153-byte str8 short and took this for a valid open: admitted, and kept open for the idle time-out.
    const { gw, backend, port } = await setup({ connectTimeoutMs: 30000 });
    const input = Buffer.from([65, 77, 81, 80, 0, 1, 0, 0, 0, 0, 0, 16, 2, 0, 0, 0, 0, 83, 16, 192, 3, 1, 161, 153, 81, 254]);
    await raw(port, [input]);
    expect(securityEvents(gw, 'malformed-packet')).toHaveLength(1);
    expect(gw.logs.some((l) => l.msg === 'connection admitted')).toBe(false);
    await stillServes(port, backend);
  });

  it('closes a connection sending an undecodable frame before open', async () => {
    const { gw, backend, port } = await setup();
    await raw(port, [AMQP_HEADER, frame(Buffer.from([0x00, 0x53, 0x10, 0xff, 0xee, 0xdd, 0xcc, 0xbb]))]);
    expect(securityEvents(gw, 'malformed-packet')).toHaveLength(1);
    await stillServes(port, backend);
  });

  it('survives well-framed random performatives after open and keeps serving (seeded fuzz)', async () => {
    const { backend, port } = await setup();
    let seed = 0x5eed;
    const next = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
    const open = frame(Buffer.from([0x00, 0x53, 0x10, 0xc0, 0x04, 0x01, 0xa1, 0x01, 0x78]));
    // begin(remote-channel null, next-outgoing-id 0, incoming-window 4096, outgoing-window 4096)
    const begin = frame(Buffer.from([0x00, 0x53, 0x11, 0xc0, 0x0c, 0x04, 0x40, 0x52, 0x00, 0x70, 0x00, 0x00, 0x10, 0x00, 0x70, 0x00, 0x00, 0x10, 0x00]));
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): number => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      for (let i = 0; i < 150; i++) {
        // A descriptor of every AMQP performative (0x10 open … 0x18 close), then random bytes.
        const body = Buffer.concat([Buffer.from([0x00, 0x53, 0x10 + (i % 9)]), Buffer.from(Array.from({ length: next() % 48 }, () => next() & 0xff))]);
        await raw(port, [AMQP_HEADER, open, begin, frame(body, i % 2)], false);
      }
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(uncaught).toEqual([]);
    await stillServes(port, backend);
  });

  it('closes a connection whose frame header announces more than max-frame-size', async () => {
    const { gw, backend, port } = await setup();
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(50 * 1024 * 1024, 0);
    huge[4] = 2;
    await raw(port, [AMQP_HEADER, huge, randomBytes(1024)]);
    const ev = securityEvents(gw, 'oversize');
    expect(ev).toHaveLength(1);
    expect(String(ev[0]!.detail)).toContain('max-frame-size');
    await stillServes(port, backend);
  });

  it('answers a foreign protocol header with its own header, then closes', async () => {
    const { gw, port } = await setup();
    const r = await raw(port, [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
    expect(r.received.subarray(0, 4).toString()).toBe('AMQP');
    expect(securityEvents(gw, 'malformed-packet')).toHaveLength(1);
  });

  it('drops a truncated frame when the peer goes away, and closes one that stalls at the connect deadline', async () => {
    const { gw, backend, port } = await setup({ connectTimeoutMs: 300 });
    // A performative (an empty described list) and payload bytes, cut off mid-frame.
    const partial = frame(Buffer.concat([Buffer.from([0x00, 0x53, 0x14, 0x45]), Buffer.alloc(36, 1)])).subarray(0, 20);
    await raw(port, [AMQP_HEADER, partial], false);
    const started = Date.now();
    await raw(port, [AMQP_HEADER, partial]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(securityEvents(gw, 'slow-client')).toHaveLength(1);
    await stillServes(port, backend);
  });

  it('closes a connection that begins more sessions than allowed with amqp:resource-limit-exceeded', async () => {
    const { gw, backend, port } = await setup({}, { maxSessionsPerConnection: 3 });
    const container = rhea.create_container();
    container.on('error', () => undefined);
    container.on('disconnected', () => undefined);
    const conn = container.connect({ port, host: '127.0.0.1', reconnect: false });
    const condition = new Promise<string | undefined>((r) => conn.once('connection_error', (ctx: EventContext) => r(connectionCondition(ctx))));
    conn.once('connection_open', () => {
      for (let i = 0; i < 10; i++) conn.create_session().begin();
    });
    expect(await condition).toBe('amqp:resource-limit-exceeded');
    expect(securityEvents(gw, 'flood')).toHaveLength(1);
    await stillServes(port, backend);
  });

  it('closes a connection that attaches more links on a session than allowed', async () => {
    const { gw, backend, port } = await setup({}, { maxLinksPerSession: 4 });
    const container = rhea.create_container();
    container.on('error', () => undefined);
    container.on('disconnected', () => undefined);
    const conn = container.connect({ port, host: '127.0.0.1', reconnect: false });
    const condition = new Promise<string | undefined>((r) => conn.once('connection_error', (ctx: EventContext) => r(connectionCondition(ctx))));
    for (let i = 0; i < 20; i++) conn.open_sender({ target: { address: `telemetry/${i}` } });
    expect(await condition).toBe('amqp:resource-limit-exceeded');
    expect(securityEvents(gw, 'flood')).toHaveLength(1);
    await stillServes(port, backend);
  });

  it('detaches a link whose message exceeds maxMessageBytes', async () => {
    const { gw, backend, port } = await setup({ maxPacketBytes: 1024 }, { maxMessageBytes: 4096 });
    const container = rhea.create_container();
    container.on('error', () => undefined);
    container.on('disconnected', () => undefined);
    const conn = container.connect({ port, host: '127.0.0.1', reconnect: false, max_frame_size: 1024 });
    const s = conn.open_sender({ target: { address: 'telemetry/big' } });
    const condition = new Promise<string | undefined>((r) =>
      s.once('sender_error', (ctx: EventContext) => r(ctx.sender?.error && (ctx.sender.error as { condition?: string }).condition)),
    );
    s.once('sendable', () => s.send({ body: rhea.message.data_section(Buffer.alloc(64 * 1024, 7)) }));
    expect(await condition).toBe('amqp:link:message-size-exceeded');
    expect(securityEvents(gw, 'oversize')).toHaveLength(1);
    expect(backend.requests).toHaveLength(0);
    conn.close();
    await stillServes(port, backend);
  });
});

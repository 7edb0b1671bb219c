/**
 * Regression: the AMQP idle time-out (AMQP 1.0 §2.4.5) counts only while
 * thinggate reads the connection. While an `open` awaits a slow admission the
 * socket is paused and the peer's heartbeats sit unread: the peer is not
 * closed for that. A peer that is silent once it is read again still is, and
 * credit back-pressure (a slow back-end) never stops reading at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import rhea, { type Connection, type EventContext } from 'rhea';
import { connectionCondition } from '../helpers/amqp.js';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { ScriptDir } from '../unit/scripting/support.js';

/** Announced idle-time-out: rhea closes a peer silent for twice this. */
const IDLE_MS = 200;
const ADMISSION_MS = 800;

const dir = new ScriptDir();
dir.write(
  'slow.js',
  `export function onConnect() { const t = Date.now(); while (Date.now() - t < ${ADMISSION_MS}) {} return true; }
export function onMessage() { return route('be'); }`,
);
let backend: TestBackend;
let gw: TestGateway;

beforeAll(async () => {
  backend = await TestBackend.start((req) => ({ status: 200, delayMs: req.url.startsWith('/slow') ? 300 : 0 }));
  gw = await startGateway(
    {
      listeners: [
        { name: 'gated', protocol: 'amqp', host: '127.0.0.1', port: 0, amqp: { idleTimeoutMs: IDLE_MS } },
        { name: 'open', protocol: 'amqp', host: '127.0.0.1', port: 0, limits: { maxInflight: 1 }, amqp: { idleTimeoutMs: IDLE_MS } },
      ],
      pools: [{ name: 'be', endpoints: [{ url: backend.url }] }],
      routes: [
        { match: { listener: 'gated' }, script: 'slow.js', pool: 'be', request: { path: '/gated' } },
        { match: { listener: 'open' }, pool: 'be', request: { path: '/slow' } },
      ],
      scripts: { timeoutMs: 5000, watch: false },
    },
    { baseDir: dir.path },
  );
});

afterAll(async () => {
  await gw?.stop();
  await backend?.close();
  dir.remove();
});

interface Session {
  readonly conn: Connection;
  /** Resolves with the condition thinggate closed the connection with. */
  readonly closed: Promise<string>;
  /** Sends `n` unsettled messages and resolves once all are accepted. */
  send(n: number): Promise<void>;
}

function open(port: number): Session {
  const container = rhea.create_container({ id: `idle-${port}-${Math.random()}` });
  container.on('error', () => undefined);
  const conn = container.connect({ port, host: '127.0.0.1', reconnect: false, idle_time_out: IDLE_MS });
  const closed = new Promise<string>((resolve) => {
    conn.once('connection_error', (ctx: EventContext) => resolve(connectionCondition(ctx) ?? 'error'));
    conn.once('disconnected', () => resolve('disconnected'));
  });
  const sender = conn.open_sender({ target: { address: 'a/b' } });
  const send = (n: number): Promise<void> =>
    new Promise((resolve, reject) => {
      let sent = 0;
      let accepted = 0;
      const pump = (): void => {
        while (sent < n && sender.sendable()) {
          sender.send({ body: String(sent++) });
        }
      };
      sender.on('sendable', pump);
      sender.on('accepted', () => ++accepted === n && resolve());
      void closed.then((c) => reject(new Error(`closed: ${c}`)));
      pump();
    });
  return { conn, closed, send };
}

const idleCloses = (): unknown[] => gw.logs.filter((l) => String(l.msg).includes('closing') && String(l.description).includes('idle'));

describe('amqp idle time-out while thinggate is not reading', () => {
  it(`keeps a peer whose open waits ${ADMISSION_MS} ms for admission, longer than twice the idle time-out`, async () => {
    const s = open(gw.port('gated'));
    try {
      await s.send(1);
      expect(backend.requests.filter((r) => r.url === '/gated')).toHaveLength(1);
      // Heartbeats keep it open once it is read again.
      const outcome = await Promise.race([s.closed, new Promise<string>((r) => setTimeout(() => r('open'), 3 * IDLE_MS))]);
      expect(outcome).toBe('open');
    } finally {
      s.conn.close();
    }
    expect(idleCloses()).toEqual([]);
  });

  it('still closes a peer that stops sending once it is read again, a fresh period after admission', async () => {
    const s = open(gw.port('gated'));
    s.conn.once('connection_open', () => {
      // This client stops honouring the idle-time-out thinggate announced: no more heartbeats.
      (s.conn as unknown as { remote: { open: { idle_time_out: number } } }).remote.open.idle_time_out = 0;
    });
    // Credit arrives once admission is done.
    const admitted = new Promise<number>((r) => s.conn.once('sendable', () => r(Date.now())));
    expect(await Promise.race([admitted.then(() => 'admitted'), s.closed])).toBe('admitted');
    expect(await s.closed).toBe('amqp:resource-limit-exceeded');
    // Measured from when the client saw its credit, a little after the gateway's admission, and a
    // timer may fire a millisecond early: a fresh period, give or take 10 ms.
    expect(Date.now() - (await admitted)).toBeGreaterThanOrEqual(IDLE_MS - 10);
  });

  it('keeps reading, and so keeps the peer, while credit holds it back behind a slow back-end', async () => {
    const s = open(gw.port('open'));
    try {
      await s.send(6); // one credit at a time, 300 ms each: well over twice the idle time-out
      expect(s.conn.is_open()).toBe(true);
    } finally {
      s.conn.close();
    }
  });
});

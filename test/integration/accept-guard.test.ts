/**
 * Regression: limits.maxConnections and limits.connectTimeoutMs hold at TCP
 * accept on every TCP listener and transport, before any TLS handshake or
 * WebSocket upgrade. Silent sockets used to stay open (MQTT over TLS: for
 * ever within node's handshake timer; HTTPS: never closed; WebSocket: only
 * after node's HTTP timers) and were not counted against the limit.
 */
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import rhea from 'rhea';
import WebSocket from 'ws';
import type { TestGateway } from '../helpers/gateway.js';
import { startTlsBed, type TlsBed } from '../helpers/tls.js';

const LIMIT = 4;
const EXCESS = 3;
const DEADLINE_MS = 1500;

interface Case {
  readonly name: string;
  readonly protocol: 'mqtt' | 'mqtt-ws' | 'amqp' | 'http';
  readonly tls: boolean;
  /** What a socket silent from the start is reported as stuck in. */
  readonly silentStage: RegExp;
}

const CASES: readonly Case[] = [
  { name: 'mqtt', protocol: 'mqtt', tls: false, silentStage: /no complete CONNECT within 1500 ms/ },
  { name: 'mqtts', protocol: 'mqtt', tls: true, silentStage: /no TLS handshake within 1500 ms/ },
  { name: 'ws', protocol: 'mqtt-ws', tls: false, silentStage: /no WebSocket upgrade within 1500 ms/ },
  { name: 'wss', protocol: 'mqtt-ws', tls: true, silentStage: /no TLS handshake within 1500 ms/ },
  { name: 'amqp', protocol: 'amqp', tls: false, silentStage: /no complete open within 1500 ms/ },
  { name: 'amqps', protocol: 'amqp', tls: true, silentStage: /no TLS handshake within 1500 ms/ },
  { name: 'http', protocol: 'http', tls: false, silentStage: /no complete request within 1500 ms/ },
  { name: 'https', protocol: 'http', tls: true, silentStage: /no TLS handshake within 1500 ms/ },
];

let gw: TestGateway;
let bed: TlsBed;

beforeAll(async () => {
  bed = await startTlsBed((tls, backendUrl) => ({
    listeners: CASES.map((c) => ({
      name: c.name,
      protocol: c.protocol,
      host: '127.0.0.1',
      port: 0,
      ...(c.tls && { tls }),
      limits: { maxConnections: LIMIT, connectTimeoutMs: DEADLINE_MS },
      ...(c.protocol === 'http' && { http: { keepAliveTimeoutMs: 30_000 } }),
    })),
    pools: [{ name: 'default', endpoints: [{ url: backendUrl }], retries: { maxAttempts: 1 } }],
    routes: [{ match: { address: '#' }, pool: 'default' }],
  }));
  gw = bed.gw;
});

afterAll(() => bed?.close());

/**
 * When a socket closed, in ms after it was opened. Timed from before the
 * connect call, so before the gateway (in this process) can have accepted it:
 * a socket closed by the deadline always shows at least the deadline.
 */
interface ClosedAfter {
  readonly closed: Promise<number>;
}

function silentTcp(port: number): Promise<ClosedAfter> {
  const t0 = Date.now();
  const socket = netConnect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - t0)));
  return new Promise((resolve) => socket.once('connect', () => resolve({ closed })));
}

/** A client that completes the protocol's hello and then stays: the deadline must not touch it. */
async function admittedClient(c: Case, port: number): Promise<{ isOpen(): boolean; close(): void }> {
  if (c.protocol === 'mqtt' || c.protocol === 'mqtt-ws') {
    const scheme = c.protocol === 'mqtt' ? (c.tls ? 'mqtts' : 'mqtt') : c.tls ? 'wss' : 'ws';
    const client = await mqtt.connectAsync(`${scheme}://127.0.0.1:${port}/mqtt`, { rejectUnauthorized: false, reconnectPeriod: 0, keepalive: 60 });
    return { isOpen: () => client.connected, close: () => void client.end(true) };
  }
  if (c.protocol === 'amqp') {
    const container = rhea.create_container();
    container.on('error', () => undefined);
    container.on('disconnected', () => undefined);
    const conn = c.tls
      ? container.connect({ port, host: '127.0.0.1', reconnect: false, transport: 'tls', rejectUnauthorized: false })
      : container.connect({ port, host: '127.0.0.1', reconnect: false });
    await new Promise<void>((resolve) => conn.once('connection_open', () => resolve()));
    return { isOpen: () => conn.is_open(), close: () => conn.close() };
  }
  const socket = c.tls ? tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }) : netConnect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let closed = false;
  socket.once('close', () => (closed = true));
  socket.write('POST /ingress/admitted HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\nok');
  await new Promise<void>((resolve) => socket.once('data', () => resolve()));
  return { isOpen: () => !closed, close: () => socket.destroy() };
}

/** A socket past TLS (or the WebSocket upgrade) that then sends nothing. */
async function silentAfterHandshake(c: Case, port: number): Promise<ClosedAfter> {
  const t0 = Date.now();
  if (c.protocol === 'mqtt-ws') {
    const ws = new WebSocket(`${c.tls ? 'wss' : 'ws'}://127.0.0.1:${port}/mqtt`, 'mqtt', { rejectUnauthorized: false });
    ws.on('error', () => undefined);
    const closed = new Promise<number>((resolve) => ws.once('close', () => resolve(Date.now() - t0)));
    await new Promise<void>((resolve) => ws.once('open', () => resolve()));
    return { closed };
  }
  const socket = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false });
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - t0)));
  await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
  return { closed };
}

describe.concurrent('accept-time limits on every TCP listener', () => {
  it.each(CASES)('$name: refuses sockets beyond maxConnections at once and closes silent ones at connectTimeoutMs', async (c) => {
    const port = gw.port(c.name);
    const admitted = await admittedClient(c, port);
    const layered = c.tls || c.protocol === 'mqtt-ws';
    const handshaken = layered ? [await silentAfterHandshake(c, port)] : [];
    const silent: ClosedAfter[] = [];
    for (let i = handshaken.length + 1; i < LIMIT + EXCESS; i++) silent.push(await silentTcp(port));

    const closedAfter = await Promise.all([...silent, ...handshaken].map((s) => s.closed));
    // Refused sockets close at accept, long before the deadline; the rest wait for it.
    const refused = closedAfter.filter((ms) => ms < DEADLINE_MS / 2);
    const expired = closedAfter.filter((ms) => ms >= DEADLINE_MS / 2);
    expect(refused).toHaveLength(EXCESS);
    expect(expired).toHaveLength(LIMIT - 1);
    // Closed by the deadline itself, not by some later timer of node's. A timer may fire a
    // millisecond early (it counts from the event loop's cached clock), so 1499 ms is on time.
    for (const ms of expired) expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 5);
    for (const ms of expired) expect(ms).toBeLessThan(DEADLINE_MS + 4000);
    expect(admitted.isOpen()).toBe(true);

    expect(await gw.guardEvents('connection-limit', c.name)).toBe(EXCESS);
    expect(await gw.guardEvents('slow-client', c.name)).toBe(LIMIT - 1);
    const details = gw.logs.filter((l) => l.listener === c.name && l.kind === 'slow-client').map((l) => String(l.detail));
    expect(details.some((d) => c.silentStage.test(d))).toBe(true);
    if (layered) expect(details.some((d) => /no complete (CONNECT|open|request) within 1500 ms/.test(d))).toBe(true);
    admitted.close();
  });
});

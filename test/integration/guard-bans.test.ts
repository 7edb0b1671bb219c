/**
 * Bans over real sockets: a client sending malformed packets is banned by
 * scoring and its next connection is dropped at accept; a configured
 * client-id ban answers CONNECT with 0x8A (3.1.1: 0x05), AMQP open with
 * amqp:unauthorized-access and HTTP with 403; the admin API adds, lists and
 * removes bans, and a removed ban admits again; a flapping client id is
 * banned; a dynamic ban survives a restart of the gateway process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect as netConnect } from 'node:net';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import rhea, { type EventContext } from 'rhea';
import { connectionCondition } from '../helpers/amqp.js';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { listenerPort, startCli, type Running } from '../helpers/cli-process.js';

let gw: TestGateway | undefined;
let backend: TestBackend | undefined;
const dirs: string[] = [];
const processes: Running[] = [];

afterEach(async () => {
  await gw?.stop();
  await backend?.close();
  gw = undefined;
  backend = undefined;
  for (const p of processes.splice(0)) p.child.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Loopback is exempt from the detectors by default; these tests need it scored. */
async function start(guard: Record<string, unknown>): Promise<TestGateway> {
  backend = await TestBackend.start();
  const dir = mkdtempSync(join(tmpdir(), 'tg-guard-'));
  dirs.push(dir);
  gw = await startGateway(
    {
      listeners: [
        { name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
        { name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0 },
        { name: 'web', protocol: 'http', host: '127.0.0.1', port: 0 },
      ],
      pools: [{ name: 'be', endpoints: [{ url: backend.url }], retries: { maxAttempts: 1 }, outlierDetection: { enabled: false } }],
      routes: [{ match: { address: '#' }, pool: 'be', request: { method: 'POST', path: '/m/{address}' } }],
      admin: { host: '127.0.0.1', port: 0 },
      guard: { exempt: [], ...guard },
    },
    { baseDir: dir },
  );
  return gw;
}

/** CONNACK code (v5 reason code, 3.1.1 return code) of one connect attempt, 0 on success, -1 when closed without one. */
function connackCode(port: number, clientId: string, protocolVersion: 4 | 5 = 5): Promise<number> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId, protocolVersion, reconnectPeriod: 0, connectTimeout: 5000 });
    c.on('connect', () => (c.end(true), resolve(0)));
    // Closed without a CONNACK (dropped at accept): -1.
    c.on('close', () => resolve(-1));
    c.on('error', (err: Error & { code?: number }) => (c.end(true), err.code !== undefined ? resolve(err.code) : reject(err)));
  });
}

/** Opens a raw socket, writes `bytes`, resolves with what came back: the first answer, or nothing when the server closed it. */
function rawSession(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1');
    const got: Buffer[] = [];
    s.on('connect', () => s.write(bytes));
    s.on('data', (d) => (got.push(d), s.destroy()));
    s.on('error', () => undefined);
    s.on('close', () => resolve(Buffer.concat(got)));
  });
}

function amqpCondition(port: number, id: string): Promise<string> {
  return new Promise((resolve) => {
    const conn = rhea.create_container({ id }).connect({ port, host: '127.0.0.1', reconnect: false });
    // A refused open is answered with open, then close with the error (AMQP 1.0 §2.4.1): admitted once a link is usable.
    conn.once('connection_open', () => conn.open_sender('t').once('sendable', () => (conn.close(), resolve('open'))));
    conn.once('connection_error', (ctx: EventContext) => resolve(connectionCondition(ctx) ?? 'error'));
    conn.once('disconnected', () => resolve('disconnected'));
  });
}

// Packet type 0 is reserved [MQTT-2.1.3-1]: a malformed packet.
const MALFORMED = Buffer.from([0x00, 0x00]);
// A valid MQTT 3.1.1 CONNECT (client id empty, clean session).
const CONNECT = Buffer.from([0x10, 0x0c, 0, 4, 77, 81, 84, 84, 4, 2, 0, 60, 0, 0]);

describe('guard bans', () => {
  it('bans an address that keeps sending malformed packets and drops its next connection at accept', async () => {
    const g = await start({ scoring: { threshold: 15 } });
    const port = g.port('mqtt');
    await rawSession(port, MALFORMED);
    await rawSession(port, MALFORMED);
    const bans = g.gateway.bans.list();
    expect(bans.map((b) => [b.kind, b.value, b.source])).toEqual([['ip', '127.0.0.1', 'scoring']]);
    // Dropped before any protocol byte is read: a valid CONNECT gets nothing back.
    expect((await rawSession(port, CONNECT)).length).toBe(0);
    expect(await g.guardEvents('banned', 'mqtt')).toBeGreaterThanOrEqual(1);
    expect(g.logs.filter((l) => l.event === 'ban')).toHaveLength(1);
    const metrics = await (await fetch(`http://127.0.0.1:${g.gateway.adminAddress()!.port}/metrics`)).text();
    expect(metrics).toMatch(/thinggate_guard_bans_total\{kind="ip",source="scoring"\} 1/);
    expect(metrics).toMatch(/thinggate_guard_bans_active 1/);
  });

  it('refuses a configured client id: CONNACK 0x8A, 3.1.1 0x05, AMQP amqp:unauthorized-access, HTTP 403', async () => {
    const g = await start({ bans: [{ kind: 'clientId', value: 'evil', reason: 'test' }] });
    expect(await connackCode(g.port('mqtt'), 'evil', 5)).toBe(0x8a);
    expect(await connackCode(g.port('mqtt'), 'evil', 4)).toBe(0x05);
    expect(await connackCode(g.port('mqtt'), 'good', 5)).toBe(0);
    expect(await amqpCondition(g.port('amqp'), 'evil')).toBe('amqp:unauthorized-access');
    expect(await amqpCondition(g.port('amqp'), 'good')).toBe('open');
    const post = (id: string) => fetch(`http://127.0.0.1:${g.port('web')}/ingress/t`, { method: 'POST', headers: { 'x-client-id': id }, body: 'x' });
    const refused = await post('evil');
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { code?: string }).code).toBe('TG_ERR_BANNED');
    expect((await post('good')).status).toBeLessThan(300);
  });

  it('adds, lists and removes bans through the admin API; a removed ban admits again', async () => {
    const g = await start({ bans: [{ kind: 'cidr', value: '192.0.2.0/24', reason: 'documentation range' }] });
    const api = `http://127.0.0.1:${g.gateway.adminAddress()!.port}/api/v1/bans`;
    const bad = await fetch(api, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'ip', value: 'nope' }) });
    expect(bad.status).toBe(400);
    const added = await fetch(api, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'clientId', value: 'dev-9', ttlSeconds: 600, reason: 'misbehaving' }),
    });
    expect(added.status).toBe(201);
    const ban = (await added.json()) as { id: string; source: string; expiresAt: number; createdAt: number };
    expect([ban.source, ban.expiresAt - ban.createdAt]).toEqual(['api', 600_000]);
    const listed = (await (await fetch(api)).json()) as Array<{ id: string; kind: string }>;
    expect(listed.map((b) => b.kind)).toEqual(['cidr', 'clientId']);
    expect(await connackCode(g.port('mqtt'), 'dev-9')).toBe(0x8a);
    expect((await fetch(`${api}/${listed[0]!.id}`, { method: 'DELETE' })).status).toBe(409);
    expect((await fetch(`${api}/${ban.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(`${api}/${ban.id}`, { method: 'DELETE' })).status).toBe(404);
    expect(await connackCode(g.port('mqtt'), 'dev-9')).toBe(0);
    expect(g.logs.filter((l) => l.event === 'unban')).toHaveLength(1);
  });

  it('bans a flapping client id: more than maxConnects connects within the window', async () => {
    const g = await start({ flapping: { maxConnects: 3, maxAddressConnects: 6, windowSeconds: 60, banSeconds: 60 } });
    for (let i = 0; i < 3; i++) expect(await connackCode(g.port('mqtt'), 'flappy')).toBe(0);
    expect(await connackCode(g.port('mqtt'), 'flappy')).toBe(0x8a);
    expect(g.gateway.bans.list().map((b) => [b.kind, b.value, b.source])).toEqual([['clientId', 'flappy', 'flapping']]);
    expect(await connackCode(g.port('mqtt'), 'steady')).toBe(0);
    expect(await connackCode(g.port('mqtt'), 'steady2')).toBe(0);
    // The seventh connect from one address within the window: the address flaps, dropped at accept.
    expect(await connackCode(g.port('mqtt'), 'steady3')).toBe(-1);
    expect(g.gateway.bans.list().map((b) => [b.kind, b.value, b.source])).toContainEqual(['ip', '127.0.0.1', 'flapping']);
  });

  it('keeps a scoring ban across a restart of the gateway process (guard.stateDir)', async () => {
    backend = await TestBackend.start();
    const dir = mkdtempSync(join(tmpdir(), 'tg-guard-cli-'));
    dirs.push(dir);
    const file = join(dir, 'gw.yaml');
    writeFileSync(
      file,
      `listeners:
  - { name: mqtt, protocol: mqtt, host: 127.0.0.1, port: 0 }
pools:
  - { name: p, endpoints: [{ url: "${backend.url}" }] }
routes:
  - { match: { address: "#" }, pool: p }
guard: { stateDir: state, exempt: [], scoring: { threshold: 15 } }
`,
    );
    const first = startCli(file);
    processes.push(first);
    let port = await listenerPort(first);
    expect((await rawSession(port, CONNECT)).length).toBeGreaterThan(0);
    await rawSession(port, MALFORMED);
    await rawSession(port, MALFORMED);
    await first.waitLog((l) => l.event === 'ban');
    expect(existsSync(join(dir, 'state', 'bans.json'))).toBe(true);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = startCli(file);
    processes.push(second);
    port = await listenerPort(second);
    expect((await rawSession(port, CONNECT)).length).toBe(0);
    await second.waitLog((l) => l.event === 'security' && l.kind === 'banned');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 120_000); // two process starts: many seconds each on a loaded host

  it('drops connections over guard.limits.connectionsPerSecond at accept and reports a flood', async () => {
    const g = await start({ limits: { connectionsPerSecond: 0.01, connectionBurst: 2 } });
    const port = g.port('mqtt');
    expect((await rawSession(port, CONNECT)).length).toBeGreaterThan(0);
    expect((await rawSession(port, CONNECT)).length).toBeGreaterThan(0);
    expect((await rawSession(port, CONNECT)).length).toBe(0);
    expect(await g.guardEvents('flood', 'mqtt')).toBe(1);
  });
});

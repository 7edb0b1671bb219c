/**
 * AMQP listener lifecycle: draining stop settles in-flight deliveries before
 * closing with amqp:connection:forced; TLS; the connection limit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import rhea, { type Connection, type ConnectionOptions, type EventContext } from 'rhea';
import { connectionCondition } from '../helpers/amqp.js';
import { TestBackend } from '../helpers/backend.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(listener: object = {}): Promise<{ gw: TestGateway; backend: TestBackend; port: number }> {
  const backend = await TestBackend.start();
  cleanups.push(() => backend.close());
  const gw = await startGateway({
    listeners: [{ name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port: 0, ...listener }],
    pools: [{ name: 'ingest', endpoints: [{ url: backend.url }] }],
    routes: [{ match: { address: '#' }, pool: 'ingest' }],
  });
  cleanups.push(() => gw.stop());
  return { gw, backend, port: gw.port('amqp') };
}

function client(options: ConnectionOptions): Connection {
  const container = rhea.create_container();
  container.on('error', () => undefined);
  container.on('disconnected', () => undefined);
  return container.connect({ host: '127.0.0.1', reconnect: false, ...options });
}

describe('amqp listener lifecycle', () => {
  it('stop with drain settles in-flight deliveries, then closes with amqp:connection:forced', async () => {
    const { gw, backend, port } = await setup();
    backend.responder = () => ({ status: 200, delayMs: 150 });
    const conn = client({ port });
    const accepted: number[] = [];
    const s = conn.open_sender({ target: { address: 'telemetry/drain' } });
    s.on('accepted', () => accepted.push(Date.now()));
    s.once('sendable', () => {
      for (let i = 0; i < 3; i++) s.send({ body: `d${i}` });
    });
    const closed = new Promise<string | undefined>((r) => conn.once('connection_error', (ctx: EventContext) => r(connectionCondition(ctx))));
    await backend.waitFor(3);
    await gw.gateway.listener('amqp')!.stop({ drain: true, timeoutMs: 3000 });
    expect(accepted).toHaveLength(3);
    expect(await closed).toBe('amqp:connection:forced');
    expect(gw.gateway.listener('amqp')!.address()).toBeNull();
  });

  it('serves AMQP over TLS', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-amqp-tls-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost'],
      { stdio: 'ignore' },
    );
    const { backend, port } = await setup({ tls: { cert, key } });
    const conn = client({ port, transport: 'tls', rejectUnauthorized: false, username: 'tls-dev', password: 'pw' });
    const outcome = await new Promise<string>((resolve) => {
      const s = conn.open_sender({ target: { address: 'telemetry/tls' } });
      s.once('sendable', () => s.send({ body: 'over tls' }));
      s.once('accepted', () => resolve('accepted'));
      s.once('rejected', () => resolve('rejected'));
    });
    expect(outcome).toBe('accepted');
    expect(backend.requests[0]!.body.toString()).toBe('over tls');
    conn.close();
  });

  it('refuses to start on a port in use (TG_ERR_LISTEN) or with unreadable TLS files (TG_ERR_TLS_MATERIAL)', async () => {
    const { port } = await setup();
    const raw = (listener: object) => ({
      listeners: [{ name: 'amqp2', protocol: 'amqp', host: '127.0.0.1', ...listener }],
      pools: [{ name: 'ingest', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
      routes: [{ match: { address: '#' }, pool: 'ingest' }],
    });
    await expect(startGateway(raw({ port }))).rejects.toMatchObject({ code: 'TG_ERR_LISTEN' });
    await expect(startGateway(raw({ port: 0, tls: { cert: 'missing.pem', key: 'missing.key' } }))).rejects.toMatchObject({ code: 'TG_ERR_TLS_MATERIAL' });
  });

  it('refuses connections beyond maxConnections and reports them', async () => {
    const { gw, port } = await setup({ limits: { maxConnections: 1 } });
    const first = client({ port });
    await new Promise<void>((r) => first.once('connection_open', () => r()));
    const second = client({ port });
    await new Promise<void>((r) => second.once('disconnected', () => r()));
    expect(second.is_open()).toBe(false);
    expect(gw.logs.some((l) => l.event === 'security' && l.kind === 'connection-limit')).toBe(true);
    first.close();
  });
});

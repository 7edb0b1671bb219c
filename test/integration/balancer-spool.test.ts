/**
 * The durable spool: messages acknowledged once on disk, delivered later with
 * retries, surviving a restart (close the balancer, open a new one on the
 * same directory), bounded in size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer } from '../../src/balancer/index.js';
import type { Balancer } from '../../src/balancer/types.js';
import { TestBackend } from '../helpers/backend.js';
import { poolConfig, request } from '../unit/balancer/helpers.js';
import { LogWatch, RestartableServer } from '../unit/balancer/servers.js';

const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tg-spool-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function spooling(baseDir: string, url: string, spool: Record<string, unknown> = {}, log?: LogWatch): Balancer {
  const balancer = createBalancer(
    [
      poolConfig({
        endpoints: [{ url }],
        spool: { directory: 'spool', retryIntervalMs: 20, ...spool },
        retries: { maxAttempts: 1 },
        outlierDetection: { enabled: false },
      }),
    ],
    { baseDir, ...(log && { logger: log.logger }) },
  );
  cleanup.push(() => balancer.close(0));
  return balancer;
}

describe('balancer spool', () => {
  it('acknowledges on disk and delivers after a restart with nothing lost', async () => {
    const dir = tempDir();
    let up = false;
    const server = new RestartableServer((_req, _body, res) => {
      res.statusCode = up ? 201 : 503;
      res.end();
    });
    await server.start();
    cleanup.push(() => server.stop());
    const first = spooling(dir, server.url);
    const ids = Array.from({ length: 50 }, (_, i) => `spooled-${i}`);
    for (const id of ids) expect(await first.dispatch(request({ idempotencyKey: id, body: Buffer.from(id) }))).toEqual({ kind: 'spooled' });
    // Not delivered: the back-end answers 503 and the spool keeps retrying until closed.
    await first.close(0);
    const refused = new Set(server.seen.map((s) => s.headers['idempotency-key']));
    expect(refused.size).toBeGreaterThan(0);

    up = true;
    const log = new LogWatch();
    const second = spooling(dir, server.url, {}, log);
    await log.waitFor('spool opened with messages waiting; delivering them');
    await log.waitFor('spool drained');
    expect(second.stats()[0]!.spooled).toBe(0);
    const delivered = server.seen.filter((s) => s.headers['idempotency-key'] !== undefined);
    for (const id of ids) {
      const copies = delivered.filter((s) => s.headers['idempotency-key'] === id);
      expect(copies.length).toBeGreaterThanOrEqual(1);
      for (const c of copies) expect(c.body.toString()).toBe(id);
    }
  });

  it('answers unavailable when the spool is full', async () => {
    const dir = tempDir();
    const server = new RestartableServer((_req, _body, res) => {
      res.statusCode = 503;
      res.end();
    });
    await server.start();
    cleanup.push(() => server.stop());
    const balancer = spooling(dir, server.url, { maxMessages: 3 });
    for (let i = 0; i < 3; i++) expect(await balancer.dispatch(request())).toEqual({ kind: 'spooled' });
    expect(await balancer.dispatch(request())).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_SPOOL_FULL' });
    expect(balancer.stats()[0]!.spooled).toBe(3);
  });

  it('sends requests that must not be spooled straight to the back-end', async () => {
    const dir = tempDir();
    const server = new RestartableServer((_req, _body, res) => res.end('answer'));
    await server.start();
    cleanup.push(() => server.stop());
    const balancer = spooling(dir, server.url);
    expect(await balancer.dispatch(request({ spool: false }))).toMatchObject({ kind: 'response', status: 200, body: Buffer.from('answer') });
  });

  it('drops a spooled message the back-end refuses with 4xx instead of retrying it forever', async () => {
    const dir = tempDir();
    const server = new RestartableServer((_req, _body, res) => {
      res.statusCode = 400;
      res.end();
    });
    await server.start();
    cleanup.push(() => server.stop());
    const log = new LogWatch();
    const balancer = spooling(dir, server.url, {}, log);
    expect(await balancer.dispatch(request({ idempotencyKey: 'bad' }))).toEqual({ kind: 'spooled' });
    await log.waitFor('back-end refused a spooled message; dropped', { idempotencyKey: 'bad' });
    expect(balancer.stats()[0]!.spooled).toBe(0);
  });

  it('lets a reloaded balancer share the spool directory while the old one drains', async () => {
    const dir = tempDir();
    const backend = await TestBackend.start();
    cleanup.push(() => backend.close());
    const old = spooling(dir, backend.url);
    const next = spooling(dir, backend.url);
    expect(await old.dispatch(request({ idempotencyKey: 'from-old' }))).toEqual({ kind: 'spooled' });
    expect(await next.dispatch(request({ idempotencyKey: 'from-next' }))).toEqual({ kind: 'spooled' });
    await old.close(0);
    await backend.waitFor(2);
    expect(backend.requests.map((r) => r.headers['idempotency-key']).sort()).toEqual(['from-next', 'from-old']);
  });

  it('answers unavailable when the spool directory cannot be opened', async () => {
    const dir = tempDir();
    const holder = new ClassicLevel(join(dir, 'spool'));
    await holder.open();
    cleanup.push(() => holder.close());
    const log = new LogWatch();
    const balancer = spooling(dir, 'http://127.0.0.1:9', {}, log);
    expect(await balancer.dispatch(request())).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_SPOOL_FAILED' });
    await log.waitFor('cannot open the spool; spooled delivery is unavailable');
  });
});

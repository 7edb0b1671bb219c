/**
 * The pool's fair queue against a real back-end: sources served in turn,
 * longest-queue drop when the queue is full, requests of closed connections
 * dropped unsent (and counted), and the durable spool never dropping what it
 * took.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createBalancer } from '../../src/balancer/index.js';
import type { Balancer, RequestSource, UpstreamRequest, UpstreamResult } from '../../src/balancer/types.js';
import { Metrics } from '../../src/observability/metrics.js';
import { TestBackend } from '../helpers/backend.js';
import { poolConfig, request } from '../unit/balancer/helpers.js';

const cleanup: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** A back-end that answers only when `release()` is called, recording the order requests arrive in. */
async function heldBackend(): Promise<{ backend: TestBackend; release: () => void; order: () => string[] }> {
  let open: () => void = () => undefined;
  let gate = new Promise<void>((r) => (open = r));
  const backend = await TestBackend.start(async () => {
    await gate;
    return { status: 200, body: 'ok' };
  });
  cleanup.push(() => backend.close());
  return {
    backend,
    release: () => {
      open();
      gate = Promise.resolve();
    },
    order: () => backend.requests.map((r) => String(r.headers['x-source'])),
  };
}

function balancerFor(url: string, raw: Record<string, unknown> = {}, metrics?: Metrics): Balancer {
  const b = createBalancer(
    [
      poolConfig({
        endpoints: [{ url }],
        connections: 1,
        pipelining: 1,
        maxInflight: 1,
        retries: { maxAttempts: 1 },
        outlierDetection: { enabled: false },
        ...raw,
      }),
    ],
    metrics ? { metrics } : {},
  );
  cleanup.push(() => b.close(0));
  return b;
}

function from(remoteAddress: string, clientId: string, extra: Partial<UpstreamRequest> = {}): UpstreamRequest {
  const source: RequestSource = { remoteAddress, clientId };
  return request({ source, headers: { 'x-source': clientId }, key: clientId, ...extra });
}

describe('pool fair queue', () => {
  it('serves waiting sources in turn: by address first, then by client within an address', async () => {
    const { backend, release, order } = await heldBackend();
    const b = balancerFor(backend.url);
    const results: Array<Promise<UpstreamResult>> = [];
    // One place in flight (maxInflight 1): the first request takes it, the rest wait in the queue.
    for (let i = 0; i < 6; i++) results.push(b.dispatch(from('10.0.0.1', 'flood-a')));
    for (let i = 0; i < 6; i++) results.push(b.dispatch(from('10.0.0.1', 'flood-b')));
    results.push(b.dispatch(from('10.0.0.2', 'quiet')));
    await backend.waitFor(1);
    expect(b.stats()[0]).toMatchObject({ inflight: 1, pending: 12 });
    release();
    await Promise.all(results);
    // 10.0.0.1 and 10.0.0.2 alternate; within 10.0.0.1 its two clients alternate.
    expect(order().slice(0, 6)).toEqual(['flood-a', 'flood-a', 'quiet', 'flood-b', 'flood-a', 'flood-b']);
  });

  it("keeps in flight no more than twice what the endpoints' connections carry; the rest wait in the fair queue", async () => {
    const { backend, release } = await heldBackend();
    const b = createBalancer([poolConfig({ endpoints: [{ url: backend.url }], connections: 2, pipelining: 1, outlierDetection: { enabled: false } })]);
    cleanup.push(() => b.close(0));
    const results = Array.from({ length: 10 }, () => b.dispatch(from('10.0.0.1', 'c')));
    await backend.waitFor(2);
    expect(b.stats()[0]).toMatchObject({ inflight: 4, pending: 6 });
    release();
    for (const r of results) expect(await r).toMatchObject({ kind: 'response', status: 200 });
  });

  it('makes room in a full queue from the longest queue, and refuses a newcomer whose own queue is the longest', async () => {
    const { backend, release } = await heldBackend();
    const b = balancerFor(backend.url, { maxPending: 4 });
    const flood = Array.from({ length: 5 }, () => b.dispatch(from('10.0.0.1', 'flood')));
    await backend.waitFor(1);
    // 1 in flight + 4 waiting: full. The quiet device's message takes the flood's newest place.
    const quiet = b.dispatch(from('10.0.0.2', 'quiet'));
    expect(await flood[4]).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_POOL_OVERLOADED' });
    // The flood's next message finds its own queue the longest: refused at once.
    expect(await b.dispatch(from('10.0.0.1', 'flood'))).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_POOL_OVERLOADED' });
    release();
    expect(await quiet).toMatchObject({ kind: 'response', status: 200 });
    for (const r of flood.slice(0, 4)) expect(await r).toMatchObject({ kind: 'response', status: 200 });
    expect(b.stats()[0]!.rejectedOverload).toBe(2);
  });

  it('drops unsent, and counts, waiting requests whose connection closed; the one in flight completes', async () => {
    const { backend, release } = await heldBackend();
    const metrics = new Metrics();
    const b = balancerFor(backend.url, {}, metrics);
    const conn = new AbortController();
    const mine = Array.from({ length: 5 }, () => b.dispatch(from('10.0.0.1', 'gone', { signal: conn.signal })));
    const other = b.dispatch(from('10.0.0.2', 'alive'));
    await backend.waitFor(1);
    conn.abort();
    // Closed before it reached the pool: refused without waiting.
    expect(await b.dispatch(from('10.0.0.1', 'gone', { signal: conn.signal }))).toMatchObject({ code: 'TG_ERR_CONNECTION_CLOSED' });
    release();
    expect(await mine[0]).toMatchObject({ kind: 'response', status: 200 });
    for (const r of mine.slice(1)) expect(await r).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_CONNECTION_CLOSED' });
    expect(await other).toMatchObject({ kind: 'response', status: 200 });
    expect(backend.requests.map((r) => r.headers['x-source'])).toEqual(['gone', 'alive']);
    expect(b.stats()[0]!.cancelled).toBe(5);
    expect(await metrics.text()).toMatch(/^thinggate_upstream_rejected_total\{pool="p",code="TG_ERR_CONNECTION_CLOSED"\} 5$/m);
  });

  it('never drops a spooled message when its connection closes afterwards', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-fair-spool-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const { backend, release } = await heldBackend();
    const b = createBalancer(
      [poolConfig({ endpoints: [{ url: backend.url }], connections: 1, pipelining: 1, maxInflight: 1, spool: { directory: 'spool', retryIntervalMs: 20 } })],
      { baseDir: dir },
    );
    cleanup.push(() => b.close(0));
    const conn = new AbortController();
    const results = await Promise.all(Array.from({ length: 4 }, () => b.dispatch(from('10.0.0.1', 'spooler', { signal: conn.signal }))));
    expect(results.every((r) => r.kind === 'spooled')).toBe(true);
    conn.abort();
    release();
    await backend.waitFor(4);
    expect(b.stats()[0]!.cancelled).toBe(0);
  });
});

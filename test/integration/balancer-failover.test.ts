/**
 * The balancer against real HTTP back-ends: an endpoint dying under load,
 * a pool with every endpoint down and back, retries, circuit breaking and
 * timeouts. Requests are dispatched straight to the balancer.
 */
import { describe, expect, it } from 'vitest';
import { createBalancer } from '../../src/balancer/index.js';
import type { UpstreamResult } from '../../src/balancer/types.js';
import { poolConfig, request } from '../unit/balancer/helpers.js';
import { LogWatch, RestartableServer, balancerRig, runConcurrently } from '../unit/balancer/servers.js';

const { cleanup, balancerFor, backend } = balancerRig();

describe('balancer failover', () => {
  it('loses no acknowledged message when an endpoint dies mid-load, and delivers every message at least once', async () => {
    const backends = await Promise.all([
      backend(() => ({ status: 200, delayMs: 2 })),
      backend(() => ({ status: 200, delayMs: 2 })),
      backend(() => ({ status: 200, delayMs: 2 })),
    ]);
    const urls = backends.map((b) => b.url);
    const balancer = balancerFor({
      endpoints: urls.map((url) => ({ url })),
      retries: { maxAttempts: 4, budgetPercent: 100, backoffBaseMs: 1, backoffMaxMs: 5 },
      outlierDetection: { consecutiveFailures: 2 },
    });
    const N = 600;
    let killed = false;
    const results = await runConcurrently(N, 24, async (i) => {
      if (i === 200 && !killed) {
        killed = true;
        void backends[1]!.close();
      }
      const r = await balancer.dispatch(request({ idempotencyKey: `m-${i}`, body: Buffer.from(String(i)) }));
      return r;
    });
    // Every message acknowledged (2xx) …
    results.forEach((r) => expect(r).toMatchObject({ kind: 'response', status: 200 }));
    // … by a back-end that recorded it, under its own Idempotency-Key.
    const seen = new Map<string, number>();
    for (const b of backends) {
      for (const req of b.requests) {
        expect(req.headers['idempotency-key']).toBe(`m-${req.body.toString()}`);
        seen.set(req.body.toString(), (seen.get(req.body.toString()) ?? 0) + 1);
      }
    }
    results.forEach((r, i) => {
      const copies = seen.get(String(i)) ?? 0;
      expect(copies).toBeGreaterThanOrEqual(1);
      // A duplicate only ever follows a retry.
      if (copies > 1) expect((r as Extract<UpstreamResult, { kind: 'response' }>).attempts).toBeGreaterThan(1);
      const answeredBy = (r as Extract<UpstreamResult, { kind: 'response' }>).endpoint;
      expect(backends[urls.indexOf(answeredBy)]!.requests.some((q) => q.body.toString() === String(i))).toBe(true);
    });
    const stats = balancer.stats()[0]!;
    expect(stats.endpoints[1]!.failures).toBeGreaterThan(0);
    expect(stats.endpoints[1]!.ejected).toBe(true);
  });

  it('answers unavailable while every endpoint is down and recovers when they return', async () => {
    const servers = [new RestartableServer(), new RestartableServer()];
    for (const s of servers) await s.start();
    cleanup.push(() => Promise.all(servers.map((s) => s.stop())));
    const log = new LogWatch();
    const balancer = balancerFor(
      {
        endpoints: servers.map((s) => ({ url: s.url })),
        retries: { backoffBaseMs: 1 },
        outlierDetection: { consecutiveFailures: 2, baseEjectionTimeMs: 100 },
      },
      { log },
    );
    expect(await balancer.dispatch(request())).toMatchObject({ kind: 'response', status: 200 });
    for (const s of servers) await s.stop();
    const down = await balancer.dispatch(request());
    expect(down).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_UPSTREAM_UNAVAILABLE' });
    expect((down as { retryAfterMs?: number }).retryAfterMs).toBeGreaterThan(0);
    await balancer.dispatch(request());
    await log.waitFor('endpoint ejected after consecutive failures');
    for (const s of servers) await s.start();
    expect(await balancer.dispatch(request())).toMatchObject({ kind: 'response', status: 200 });
    await log.waitFor('ejected endpoint returned to service');
    const answered = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const r = await balancer.dispatch(request());
      expect(r.kind).toBe('response');
      if (r.kind === 'response') answered.add(r.endpoint);
    }
    expect(answered.size).toBe(2);
  });

  it('retries a 503 on another endpoint with the same Idempotency-Key', async () => {
    const sick = await backend(() => ({ status: 503, body: 'busy' }));
    const well = await backend(() => ({ status: 201 }));
    const balancer = balancerFor({ endpoints: [{ url: sick.url }, { url: well.url }], retries: { backoffBaseMs: 1 }, outlierDetection: { enabled: false } });
    for (let i = 0; i < 6; i++) {
      const r = await balancer.dispatch(request({ idempotencyKey: `k-${i}` }));
      expect(r).toMatchObject({ kind: 'response', status: 201, endpoint: well.url });
    }
    expect(sick.requests.length).toBeGreaterThan(0);
    for (const q of sick.requests) expect(well.requests.some((w) => w.headers['idempotency-key'] === q.headers['idempotency-key'])).toBe(true);
    const s = balancer.stats()[0]!;
    expect(s.retries).toBe(sick.requests.length);
    expect(s.endpoints[1]!.retries).toBe(sick.requests.length);
  });

  it('gives a 500 back without retrying it', async () => {
    const b = await backend(() => ({ status: 500 }));
    const balancer = balancerFor({ endpoints: [{ url: b.url }] });
    expect(await balancer.dispatch(request())).toMatchObject({ kind: 'response', status: 500, attempts: 1 });
    expect(b.requests.length).toBe(1);
  });

  it('stops retrying when the retry budget is spent', async () => {
    const b = await backend(() => ({ status: 503 }));
    const balancer = balancerFor({ endpoints: [{ url: b.url }], retries: { maxAttempts: 5, budgetPercent: 0, minRetryConcurrency: 0 } });
    expect(await balancer.dispatch(request())).toMatchObject({ kind: 'response', status: 503, attempts: 1 });
    expect(balancer.stats()[0]!.retryBudgetExhausted).toBe(1);
  });

  it('refuses at once beyond max in-flight and max pending', async () => {
    const release: Array<() => void> = [];
    const b = await backend(() => new Promise((resolve) => release.push(() => resolve({ status: 200 }))));
    const balancer = balancerFor({ endpoints: [{ url: b.url }], maxInflight: 2, maxPending: 2 });
    const running = Array.from({ length: 4 }, () => balancer.dispatch(request()));
    const refused = await Promise.all([balancer.dispatch(request()), balancer.dispatch(request())]);
    for (const r of refused) expect(r).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_POOL_OVERLOADED' });
    expect(balancer.stats()[0]).toMatchObject({ inflight: 2, pending: 2, rejectedOverload: 2 });
    await b.waitFor(2);
    expect(b.requests.length).toBe(2);
    release.splice(0).forEach((r) => r());
    await b.waitFor(4);
    release.splice(0).forEach((r) => r());
    for (const r of await Promise.all(running)) expect(r).toMatchObject({ kind: 'response', status: 200 });
  });

  it('bounds requests waiting behind their key under ordered delivery', async () => {
    const release: Array<() => void> = [];
    const b = await backend(() => new Promise((resolve) => release.push(() => resolve({ status: 200 }))));
    const balancer = balancerFor({ endpoints: [{ url: b.url }], orderedDelivery: true, maxPending: 1 });
    const first = balancer.dispatch(request({ key: 'dev' }));
    const second = balancer.dispatch(request({ key: 'dev' }));
    expect(await balancer.dispatch(request({ key: 'dev' }))).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_POOL_OVERLOADED' });
    // Another device is not held up.
    const other = balancer.dispatch(request({ key: 'other' }));
    await b.waitFor(2);
    release.splice(0).forEach((r) => r());
    await b.waitFor(3);
    release.splice(0).forEach((r) => r());
    for (const r of await Promise.all([first, second, other])) expect(r).toMatchObject({ kind: 'response', status: 200 });
  });

  it('times out an attempt and caps the total by the message expiry', async () => {
    const b = await backend(() => ({ status: 200, delayMs: 400 }));
    const balancer = balancerFor({ endpoints: [{ url: b.url }], timeoutMs: 100, retries: { maxAttempts: 1 } });
    const t0 = Date.now();
    expect(await balancer.dispatch(request())).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_UPSTREAM_TIMEOUT' });
    expect(Date.now() - t0).toBeLessThan(390);
    expect(await balancer.dispatch(request({ expiresAt: Date.now() - 1 }))).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_MESSAGE_EXPIRED' });
    const capped = createBalancer([poolConfig({ endpoints: [{ url: b.url }], timeoutMs: 5000, retries: { maxAttempts: 1 } })]);
    cleanup.push(() => capped.close(0));
    const t1 = Date.now();
    expect(await capped.dispatch(request({ expiresAt: Date.now() + 80 }))).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_UPSTREAM_TIMEOUT' });
    expect(Date.now() - t1).toBeLessThan(390);
  });

  it('answers unavailable for an unknown pool', async () => {
    const balancer = balancerFor({ endpoints: [{ url: 'http://127.0.0.1:9' }] });
    expect(balancer.hasPool('nope')).toBe(false);
    expect(await balancer.dispatch(request({ pool: 'nope' }))).toMatchObject({ kind: 'unavailable', code: 'TG_ERR_POOL_UNKNOWN' });
  });
});

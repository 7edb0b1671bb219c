import { describe, expect, it } from 'vitest';
import { IdleWaiters } from '../../../src/util/idle-waiters.js';

describe('IdleWaiters', () => {
  it('resolves at once when already done', async () => {
    const w = new IdleWaiters(() => true);
    await expect(w.wait()).resolves.toBeUndefined();
  });

  it('resolves waiters only when a check finds the work done', async () => {
    let busy = 2;
    const w = new IdleWaiters(() => busy === 0);
    let resolved = 0;
    void w.wait().then(() => resolved++);
    void w.wait(10_000).then(() => resolved++);
    busy = 1;
    w.check();
    await new Promise((r) => setImmediate(r));
    expect(resolved).toBe(0);
    busy = 0;
    w.check();
    await new Promise((r) => setImmediate(r));
    expect(resolved).toBe(2);
  });

  it('gives up waiting after the timeout', async () => {
    const w = new IdleWaiters(() => false);
    const t0 = Date.now();
    await w.wait(30);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
  });
});

/**
 * `scripts.threads: 0`: scripts run on the gateway's event loop. They share
 * one inline thread; a batch yields to the event loop after every time
 * slice, so a message spinning to its limit holds the loop for one limit,
 * not for the whole batch; a reload to 0 places new scripts inline while
 * those already on workers stay there. (The scripting suites also run whole
 * in this mode: the `scripts-inline` project of vitest.config.ts.)
 */
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { ScriptDir, build, configFor, envelope, expectReplacedAfterThreadStop, threadOf, timerLag } from './support.js';

const dir = new ScriptDir();
afterAll(() => dir.remove());

const SPIN = dir.write('spin.js', `export function onMessage(msg) { if (msg.address.endsWith('/spin')) { for (;;) {} } return drop('ok'); }`);
// About a quarter of a millisecond of work per message.
const WORK = dir.write(
  'work.js',
  `export function onMessage(msg) { let x = 0; for (let i = 0; i < 200000; i++) x = (x + i * 7) % 1000003; return drop(String(x)); }`,
);
const COUNT = dir.write(
  'count.js',
  `export function onMessage(msg, ctx) { const n = (ctx.state.get('n') ?? 0) + 1; ctx.state.set('n', n); return drop('n ' + n); }`,
);

describe('scripts on the event loop (scripts.threads: 0)', () => {
  it('scripts share one inline thread, each keeping its own state', async () => {
    const { host } = await build(configFor(dir, [COUNT, SPIN], { threads: 0 }));
    try {
      expect(host.threads.count).toBe(1);
      expect(threadOf(host.units.get(COUNT)!).inline).toBe(true);
      expect(threadOf(host.units.get(SPIN)!)).toBe(threadOf(host.units.get(COUNT)!));
      await host.onMessage(COUNT, envelope('s0/x'));
      expect(await host.onMessage(COUNT, envelope('s0/x'))).toMatchObject({ ok: true, decisions: [{ action: 'drop', reason: 'n 2' }] });
      expect(await host.onMessage(SPIN, envelope('s1/x'))).toMatchObject({ ok: true, decisions: [{ action: 'drop', reason: 'ok' }] });
    } finally {
      await host.close();
    }
    expect(host.threads.count).toBe(0);
  });

  it('messages spinning to the limit hold the event loop one limit at a time; the rest of their batch succeeds', async () => {
    const { host } = await build(configFor(dir, [SPIN], { threads: 0, timeoutMs: 150 }));
    try {
      const { value, lagMs, elapsedMs } = await timerLag(
        () => Promise.all(['s0/spin', 's0/a', 's0/spin', 's0/b', 's0/spin'].map((a) => host.onMessage(SPIN, envelope(a)))),
        2,
      );
      expect(value.map((r) => (r.ok ? r.decisions[0] : r.code))).toEqual([
        'TG_ERR_SCRIPT_TIMEOUT',
        { action: 'drop', reason: 'ok' },
        'TG_ERR_SCRIPT_TIMEOUT',
        { action: 'drop', reason: 'ok' },
        'TG_ERR_SCRIPT_TIMEOUT',
      ]);
      // Three limits in all, but timers ran between them.
      expect(elapsedMs).toBeGreaterThanOrEqual(440);
      expect(lagMs).toBeLessThan(290);
    } finally {
      await host.close();
    }
  });

  it('a long batch yields to the event loop between its time slices', async () => {
    const { host } = await build(configFor(dir, [WORK], { threads: 0, batchMax: 1024 }));
    try {
      const { value, lagMs, elapsedMs } = await timerLag(
        () => Promise.all(Array.from({ length: 600 }, (_, i) => host.onMessage(WORK, envelope(`s0/${i}`)))),
        2,
      );
      expect(value.every((r) => r.ok)).toBe(true);
      // Run in one go, the batch would have stalled the timer for all of it.
      expect(elapsedMs).toBeGreaterThan(40);
      expect(lagMs).toBeLessThan(elapsedMs / 3);
    } finally {
      await host.close();
    }
  });

  it('a reload to 0 runs newly placed scripts inline; scripts already on a worker stay there', async () => {
    const first = await build(configFor(dir, [COUNT], { threads: 2 }));
    const second = await build(configFor(dir, [COUNT, SPIN], { threads: 0 }), {}, first.host, first.log, first.metrics);
    try {
      expect(threadOf(second.host.units.get(COUNT)!).inline).toBe(false);
      expect(threadOf(second.host.units.get(SPIN)!).inline).toBe(true);
      expect(second.host.threads.count).toBe(2);
      expect(await second.host.onMessage(SPIN, envelope('s1/x'))).toMatchObject({ ok: true });
      expect(await second.host.onMessage(COUNT, envelope('s0/x'))).toMatchObject({ ok: true, decisions: [{ reason: 'n 1' }] });
    } finally {
      await first.host.close();
      await second.host.close();
    }
  });

  it('an inline thread that stops is replaced and its scripts recompiled, as a worker would be', async () => {
    const built = await build(configFor(dir, [COUNT], { threads: 0 }));
    try {
      await expectReplacedAfterThreadStop(built, COUNT, { action: 'drop', reason: 'n 1' });
    } finally {
      await built.host.close();
    }
  });

  it('scripts.threads below 0 is refused with its path', () => {
    expect(() => parseConfig({ listeners: [], pools: [], routes: [], scripts: { threads: -1 } }, { baseDir: dir.path, env: {} })).toThrow(
      /\/scripts\/threads: must be >= 0/,
    );
  });
});

/**
 * Scripts run in script threads: a script spinning until its time limit
 * holds neither the gateway's event loop nor scripts on other threads, nor
 * does compiling a new version (watched file or configuration reload) while
 * the thread is busy;
 * scripts share up to `scripts.threads` threads, each with its own state;
 * a script thread that dies is replaced (its messages fail, later ones run).
 */
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import type { ScriptThread } from '../../../src/scripting/thread.js';
import { ScriptDir, build, configFor, envelope, expectReplacedAfterThreadStop, stopThreadOf, timerLag } from './support.js';

const dir = new ScriptDir();
afterAll(() => dir.remove());

const SPIN = dir.write('spin.js', `export function onMessage(msg) { if (msg.address.endsWith('/spin')) { for (;;) {} } return drop('ok'); }`);
const QUICK = dir.write('quick.js', `export function onMessage() { return drop('quick'); }`);
const COUNT = (name: string): string =>
  dir.write(
    `${name}.js`,
    `export function onMessage(msg, ctx) { const n = (ctx.state.get('n') ?? 0) + 1; ctx.state.set('n', n); return drop('${name} ' + n); }`,
  );

describe('script threads', () => {
  it('a script spinning to its time limit holds neither the event loop nor another script', async () => {
    const { host } = await build(configFor(dir, [SPIN, QUICK], { timeoutMs: 400 }));
    try {
      const spinning = host.onMessage(SPIN, envelope('s0/spin'));
      const quick = host.onMessage(QUICK, envelope('s1/x'));
      let quickFirst = false;
      void quick.then(() => {
        quickFirst = true;
      });
      const { value, lagMs } = await timerLag(spinning);
      expect(value).toMatchObject({ ok: false, code: 'TG_ERR_SCRIPT_TIMEOUT' });
      // In the event loop's thread the spin would have stalled the timer for the whole 400 ms limit.
      expect(lagMs).toBeLessThan(200);
      expect(quickFirst).toBe(true);
      expect(await quick).toMatchObject({ ok: true, decisions: [{ action: 'drop', reason: 'quick' }] });
      // The same script goes on serving its other messages.
      expect(await host.onMessage(SPIN, envelope('s0/fine'))).toMatchObject({ ok: true });
    } finally {
      await host.close();
    }
  });

  it('a changed file is compiled without holding the event loop while its thread is busy', async () => {
    const S = dir.write('busy.js', `export function onMessage(msg) { if (msg.address.endsWith('/spin')) { for (;;) {} } return drop('v1'); }`);
    const { host } = await build(configFor(dir, [S], { timeoutMs: 600, watch: true, debounceMs: 10 }));
    try {
      const unit = host.units.get(S)!;
      const spinning = host.onMessage(S, envelope('s0/spin'));
      await new Promise((r) => setTimeout(r, 50));
      const swapped = once(unit.events, 'swapped');
      dir.write(S, `export function onMessage() { return drop('v2'); }`);
      // The compile waits in the thread behind the spinning call; the event loop does not wait with it.
      const { lagMs } = await timerLag(swapped);
      expect(lagMs).toBeLessThan(300);
      expect(await spinning).toMatchObject({ ok: false, code: 'TG_ERR_SCRIPT_TIMEOUT' });
      expect(await host.onMessage(S, envelope('s0/x'))).toMatchObject({ ok: true, decisions: [{ action: 'drop', reason: 'v2' }] });
    } finally {
      await host.close();
    }
  });

  it('a configuration reload compiles a changed script without holding the event loop while its thread is busy', async () => {
    const S = dir.write('busy-reload.js', `export function onMessage(msg) { if (msg.address.endsWith('/spin')) { for (;;) {} } return drop('v1'); }`);
    const config = configFor(dir, [S], { timeoutMs: 600 });
    const first = await build(config);
    try {
      const spinning = first.host.onMessage(S, envelope('s0/spin'));
      await new Promise((r) => setTimeout(r, 50));
      dir.write(S, `export function onMessage() { return drop('v2'); }`);
      // As on SIGHUP: the new host is built while the old one serves; the compile waits behind the spin in the thread.
      const { value: second, lagMs } = await timerLag(() => build(config, {}, first.host, first.log, first.metrics));
      expect(lagMs).toBeLessThan(300);
      expect(await spinning).toMatchObject({ ok: false, code: 'TG_ERR_SCRIPT_TIMEOUT' });
      expect(await second.host.onMessage(S, envelope('s0/x'))).toMatchObject({ ok: true, decisions: [{ action: 'drop', reason: 'v2' }] });
      await second.host.close();
    } finally {
      await first.host.close();
    }
  });

  it('a compile still waiting when its thread is closed fails instead of waiting forever', async () => {
    const { host } = await build(configFor(dir, [SPIN], { timeoutMs: 2000 }));
    const unit = host.units.get(SPIN)!;
    const { thread, key } = unit as unknown as { thread: ScriptThread; key: number };
    const spinning = host.onMessage(SPIN, envelope('s0/spin'));
    await new Promise((r) => setTimeout(r, 50));
    // Queued behind the spinning batch, as a reload's compile is when the gateway stops.
    const compiling = thread.compile(key, SPIN, unit.absPath, `export function onMessage() { return drop('v2'); }`, {
      memoryMb: 32,
      timeoutMs: 100,
      maxDecisionBytes: 1048576,
      maxBatchDecisionBytes: 4194304,
    });
    await thread.close();
    await expect(compiling).rejects.toMatchObject({ code: 'TG_ERR_CONFIG_INVALID', message: expect.stringMatching(/script thread closed/) });
    expect(await spinning).toMatchObject({ ok: false });
    await host.close();
  });

  it('scripts share at most scripts.threads threads, each script keeping its own state', async () => {
    const scripts = [COUNT('c1'), COUNT('c2'), COUNT('c3')];
    const one = await build(configFor(dir, scripts, { threads: 1 }));
    const two = await build(configFor(dir, scripts, { threads: 2 }));
    try {
      expect(one.host.threads.count).toBe(1);
      expect(two.host.threads.count).toBe(2);
      for (const { host } of [one, two]) {
        for (const s of scripts) await host.onMessage(s, envelope('s0/x'));
        const second = await Promise.all(scripts.map((s) => host.onMessage(s, envelope('s0/x'))));
        expect(second.map((r) => (r.ok ? r.decisions[0] : r))).toEqual(scripts.map((s) => ({ action: 'drop', reason: `${s.replace('.js', '')} 2` })));
      }
    } finally {
      await one.host.close();
      await two.host.close();
    }
    // A thread left without scripts stops.
    expect(one.host.threads.count).toBe(0);
  });

  it('a script thread that dies is replaced and the script recompiled', async () => {
    const built = await build(configFor(dir, [QUICK]));
    try {
      await expectReplacedAfterThreadStop(built, QUICK, { action: 'drop', reason: 'quick' });
    } finally {
      await built.host.close();
    }
  });

  it('messages held by a script thread that dies fail, and the script serves the next ones', async () => {
    const { host } = await build(configFor(dir, [SPIN], { timeoutMs: 2000 }));
    try {
      const unit = host.units.get(SPIN)!;
      const held = host.onMessage(SPIN, envelope('s0/spin'));
      await new Promise((r) => setTimeout(r, 100)); // the batch is in the thread, spinning
      await stopThreadOf(unit);
      expect(await held).toMatchObject({ ok: false, code: 'TG_ERR_SCRIPT_THREW', reason: expect.stringMatching(/script thread exited/) });
      expect(await host.onMessage(SPIN, envelope('s0/fine'))).toMatchObject({ ok: true, decisions: [{ action: 'drop', reason: 'ok' }] });
    } finally {
      await host.close();
    }
  });
});

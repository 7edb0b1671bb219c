/**
 * Failing scripts fail only the messages they were handling: throw, timeout
 * and memory exhaustion each give their code, are logged with the script
 * (and line) and counted; the isolate is rebuilt after a memory failure; a
 * device whose messages keep failing is throttled on its own.
 */
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { ScriptDir, build, configFor, counter, fromClient } from './support.js';

const dir = new ScriptDir();
afterAll(() => dir.remove());

const S = dir.write(
  'failing.js',
  `
const hog = [];
export function onMessage(msg) {
  if (msg.address === 'f/throw') {
    throw new RangeError('out of range');
  }
  if (msg.address === 'f/throw-value') throw { not: 'an error' };
  if (msg.address === 'f/loop') for (;;) {}
  if (msg.address === 'f/memory') for (;;) hog.push(new Array(1000000).fill(hog.length));
  return reply('ok:' + msg.clientId);
}
`,
);

let now = 1_000_000;
// Suspension after repeated time-outs has its own tests (scripting-isolation); here it would hide the throttle's answers.
const { host, metrics, log } = await build(
  configFor(dir, [S], { timeoutMs: 40, memoryMb: 16, throttle: { failures: 3, cooldownMs: 5000 }, suspend: { timeouts: 1000 } }),
  { now: () => now },
);
afterAll(() => host.close());

const ok = (clientId: string) => host.onMessage(S, fromClient(clientId, 'f/fine'));

describe('failure kinds', () => {
  it('a throw fails that message with TG_ERR_SCRIPT_THREW naming the line; its neighbours succeed', async () => {
    const [a, b, c] = await Promise.all([ok('n1'), host.onMessage(S, fromClient('t1', 'f/throw')), ok('n2')]);
    expect(a).toMatchObject({ ok: true });
    expect(c).toMatchObject({ ok: true });
    expect(b).toMatchObject({ ok: false, code: 'TG_ERR_SCRIPT_THREW' });
    expect((b as { reason: string }).reason).toBe('onMessage threw RangeError: out of range (failing.js:5)');
    const line = log.lines.find((l) => l.code === 'TG_ERR_SCRIPT_THREW');
    expect(line).toMatchObject({ script: S, line: 5, clientId: 't1' });
    expect(await counter(metrics, 'thinggate_script_errors_total', { script: S, code: 'TG_ERR_SCRIPT_THREW' })).toBe(1);
  });

  it('throwing a non-error is reported too', async () => {
    expect(await host.onMessage(S, fromClient('t2', 'f/throw-value'))).toMatchObject({
      ok: false,
      code: 'TG_ERR_SCRIPT_THREW',
      reason: 'onMessage threw threw {"not":"an error"}',
    });
  });

  it('an endless loop fails with TG_ERR_SCRIPT_TIMEOUT; messages in the same batch before and after it succeed', async () => {
    const rs = await Promise.all([ok('a'), host.onMessage(S, fromClient('t3', 'f/loop')), ok('b'), ok('c')]);
    expect(rs.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ok', 'TG_ERR_SCRIPT_TIMEOUT', 'ok', 'ok']);
    expect(await counter(metrics, 'thinggate_script_errors_total', { script: S, code: 'TG_ERR_SCRIPT_TIMEOUT' })).toBe(1);
  });

  it('exhausting memory fails with TG_ERR_SCRIPT_MEMORY, rebuilds the isolate, and the next message runs', async () => {
    // A generous time limit, so the memory limit is what stops the script.
    const b = await build(configFor(dir, [S], { timeoutMs: 5000, memoryMb: 16 }));
    try {
      const unit = b.host.units.get(S)!;
      const before = unit.version;
      const rebuilt = once(unit.events, 'rebuilt');
      const r = await b.host.onMessage(S, fromClient('t4', 'f/memory'));
      expect(r).toMatchObject({ ok: false, code: 'TG_ERR_SCRIPT_MEMORY' });
      // The isolate is compiled again in the script's thread, without holding the event loop.
      const [after] = (await rebuilt) as [typeof before];
      expect(unit.version).toBe(after);
      expect(after).not.toBe(before);
      expect(after.alive).toBe(true);
      expect(await b.host.onMessage(S, fromClient('n5', 'f/fine'))).toMatchObject({ ok: true });
      expect(await counter(b.metrics, 'thinggate_script_reloads_total', { script: S, result: 'rebuilt' })).toBe(1);
      expect(await counter(b.metrics, 'thinggate_script_errors_total', { script: S, code: 'TG_ERR_SCRIPT_MEMORY' })).toBe(1);
    } finally {
      await b.host.close();
    }
  });
});

describe('per-device throttling', () => {
  it('throttles a device after repeated failures without affecting others, and lets it back after the cooldown', async () => {
    for (let i = 0; i < 3; i++) expect(await host.onMessage(S, fromClient('flaky', 'f/throw'))).toMatchObject({ code: 'TG_ERR_SCRIPT_THREW' });
    // The script is not even run now: a good message from the same device is refused too.
    expect(await host.onMessage(S, fromClient('flaky', 'f/fine'))).toMatchObject({ ok: false, code: 'TG_ERR_SCRIPT_THROTTLED' });
    expect(await ok('steady')).toMatchObject({ ok: true });
    expect(log.lines.some((l) => l.msg === 'client throttled after repeated script failures' && l.clientId === 'flaky')).toBe(true);
    now += 5001;
    expect(await host.onMessage(S, fromClient('flaky', 'f/fine'))).toMatchObject({ ok: true });
  });

  it('a success resets the count', async () => {
    for (let i = 0; i < 2; i++) await host.onMessage(S, fromClient('mixed', 'f/throw'));
    await host.onMessage(S, fromClient('mixed', 'f/fine'));
    for (let i = 0; i < 2; i++) await host.onMessage(S, fromClient('mixed', 'f/throw'));
    expect(await host.onMessage(S, fromClient('mixed', 'f/fine'))).toMatchObject({ ok: true });
  });
});

describe('log rate limit', () => {
  it('drops script log lines beyond the bucket and counts them', async () => {
    const dir2 = new ScriptDir();
    const L = dir2.write('chatty.js', `export function onMessage(msg, ctx) { for (let i = 0; i < 10; i++) ctx.log.info('line ' + i); return drop(); }`);
    let t = 0;
    const b = await build(configFor(dir2, [L], { log: { perSecond: 1, burst: 4 } }), { now: () => t });
    try {
      await b.host.onMessage(L, fromClient('c', 'x'));
      expect(b.log.lines.filter((l) => l.scriptLog).map((l) => l.msg)).toEqual(['line 0', 'line 1', 'line 2', 'line 3']);
      expect(await counter(b.metrics, 'thinggate_script_log_dropped_total', { script: L })).toBe(6);
      t += 2000;
      await b.host.onMessage(L, fromClient('c', 'x'));
      expect(b.log.lines.filter((l) => l.scriptLog).length).toBe(6);
    } finally {
      await b.host.close();
      dir2.remove();
    }
  });
});

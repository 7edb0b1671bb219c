/**
 * ctx.state bounds: entries and bytes, oldest writes forgotten first, an
 * oversized entry refused; and the bound seen from inside a script.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateStore } from '../../../src/scripting/state-store.js';
import { ScriptDir, build, configFor, envelope, replyText, type Built } from './support.js';

describe('StateStore', () => {
  it('forgets the oldest writes beyond maxEntries; a re-written key counts as new', () => {
    const s = new StateStore({ maxEntries: 3, maxBytes: 1 << 20 });
    s.set('a', '1');
    s.set('b', '2');
    s.set('c', '3');
    s.set('a', '11');
    s.set('d', '4');
    expect(s.has('b')).toBe(false);
    expect([s.get('a'), s.get('c'), s.get('d')]).toEqual(['11', '3', '4']);
    expect(s.size).toBe(3);
  });

  it('keeps the byte total under maxBytes and refuses an entry larger than the bound', () => {
    const s = new StateStore({ maxEntries: 1000, maxBytes: 1024 });
    for (let i = 0; i < 100; i++) s.set(`k${i}`, JSON.stringify('x'.repeat(40)));
    expect(s.byteSize).toBeLessThanOrEqual(1024);
    expect(s.has('k99')).toBe(true);
    expect(s.has('k0')).toBe(false);
    expect(s.set('big', JSON.stringify('y'.repeat(600)))).toMatch(/limit is 1024/);
    expect(s.has('big')).toBe(false);
  });

  it('tightened bounds on reload apply at once', () => {
    const s = new StateStore({ maxEntries: 10, maxBytes: 1 << 20 });
    for (let i = 0; i < 10; i++) s.set(`k${i}`, '1');
    s.configure({ maxEntries: 2, maxBytes: 1 << 20 });
    expect(s.size).toBe(2);
    expect(s.has('k9')).toBe(true);
  });
});

describe('ctx.state inside a script', () => {
  const dir = new ScriptDir();
  const S = dir.write(
    'state.js',
    `export function onMessage(msg, ctx) {
  if (msg.address === 'big') { try { ctx.state.set('big', 'z'.repeat(5000)); } catch (e) { return reply(e.name + ': ' + e.message); } }
  if (msg.address === 'fn') { try { ctx.state.set('fn', () => 1); } catch (e) { return reply(e.name); } }
  ctx.state.set(msg.address, { at: msg.address });
  return reply(String(ctx.state.size));
}`,
  );
  let host: Built['host'];
  beforeAll(async () => {
    ({ host } = await build(configFor(dir, [S], { state: { maxEntries: 2, maxBytes: 4096 } })));
  });
  afterAll(async () => {
    await host.close();
    dir.remove();
  });
  const text = async (address: string) => {
    const r = await host.onMessage(S, envelope(address));
    return replyText(r);
  };

  it('is bounded in entries and refuses oversized or non-JSON values with an error the script can catch', async () => {
    expect(await text('a')).toBe('1');
    expect(await text('b')).toBe('2');
    expect(await text('c')).toBe('2');
    expect(await text('big')).toMatch(/^RangeError: state entry 'big' is \d+ bytes; the limit is 4096$/);
    expect(await text('fn')).toBe('TypeError');
  });
});

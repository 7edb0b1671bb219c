/**
 * Hot reload: a changed file is compiled aside and swapped in; a version
 * that does not compile is refused and the old one keeps running; the
 * factory, called again on reload, reuses unchanged isolates and state;
 * a message's onResponse runs on the version that handled its onMessage.
 */
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { ScriptDir, build, configFor, counter, envelope } from './support.js';
import type { RemoteVersion } from '../../../src/scripting/thread.js';

const dir = new ScriptDir();
afterAll(() => dir.remove());

const version = (v: string) => `
export function onMessage(msg, ctx) {
  ctx.state.set('seen', (ctx.state.get('seen') ?? 0) + 1);
  return route('p', { path: '/${v}', reply: true, headers: { seen: String(ctx.state.get('seen')) } });
}
export function onResponse() { return reply('${v}'); }
`;

/** Runs one message; `path` names the version that ran it, `seen` counts the messages its ctx.state has seen. */
async function run(host: Awaited<ReturnType<typeof build>>['host'], script: string): Promise<{ path: string; seen: string }> {
  const r = await host.onMessage(script, envelope('s0/x'));
  if (!r.ok) throw new Error(r.reason);
  const d = r.decisions[0] as { path: string; headers: Record<string, string> };
  return { path: d.path, seen: d.headers.seen! };
}

async function path(host: Awaited<ReturnType<typeof build>>['host'], script: string): Promise<string> {
  return (await run(host, script)).path;
}

describe('watching script files', () => {
  it('swaps in a changed file, keeps state, and refuses a broken version', async () => {
    const S = dir.write('watched.js', version('v1'));
    const b = await build(configFor(dir, [S], { watch: true, debounceMs: 20 }));
    try {
      const unit = b.host.units.get(S)!;
      expect(await path(b.host, S)).toBe('/v1');
      const swapped = once(unit.events, 'swapped');
      dir.write(S, version('v2'));
      await swapped;
      // ctx.state lives beside the isolates and outlives the swap.
      expect(await run(b.host, S)).toEqual({ path: '/v2', seen: '2' });

      const refused = once(unit.events, 'refused');
      dir.write(S, 'export function onMessage( {');
      const [err] = (await refused) as [Error];
      expect(err.message).toMatch(/does not compile/);
      expect(await path(b.host, S)).toBe('/v2');
      expect(b.log.lines.some((l) => l.msg === 'new script version refused: keeping the running version' && l.script === S)).toBe(true);
      expect(await counter(b.metrics, 'thinggate_script_reloads_total', { script: S, result: 'refused' })).toBe(1);

      const missing = once(unit.events, 'refused');
      dir.write(S, 'export const nothing = 1;');
      expect(((await missing) as [Error])[0].message).toMatch(/does not export an onMessage/);
      expect(await path(b.host, S)).toBe('/v2');
    } finally {
      await b.host.close();
    }
  });

  it('onResponse runs on the version that handled the message', async () => {
    const S = dir.write('inflight.js', version('old'));
    const b = await build(configFor(dir, [S], { watch: true, debounceMs: 10 }));
    try {
      const e = envelope('s0/x');
      await b.host.onMessage(S, e);
      const swapped = once(b.host.units.get(S)!.events, 'swapped');
      dir.write(S, version('new'));
      await swapped;
      const res = { status: 200, headers: {}, body: Buffer.alloc(0) };
      expect((await b.host.onResponse(S, res, e)) as { payload: Buffer }).toMatchObject({ payload: Buffer.from('old') });
      const e2 = envelope('s0/y');
      await b.host.onMessage(S, e2);
      expect((await b.host.onResponse(S, res, e2)) as { payload: Buffer }).toMatchObject({ payload: Buffer.from('new') });
    } finally {
      await b.host.close();
    }
  });
});

describe('reload through the factory (SIGHUP)', () => {
  it('reuses unchanged isolates and state; compiles changed files and limits aside', async () => {
    const A = dir.write('a.js', version('a1'));
    const B = dir.write('b.js', version('b1'));
    const first = await build(configFor(dir, [A, B]));
    await path(first.host, A);
    const va = first.host.units.get(A)!.version;
    const vb = first.host.units.get(B)!.version;
    dir.write(B, version('b2'));
    const second = await build(configFor(dir, [A, B]), {}, first.host, first.log, first.metrics);
    await first.host.close(); // what the gateway does after swapping
    try {
      expect(second.host.units.get(A)!.version).toBe(va);
      expect(va.alive).toBe(true);
      expect(second.host.units.get(B)!.version).not.toBe(vb);
      expect(await path(second.host, B)).toBe('/b2');
      expect(await run(second.host, A)).toEqual({ path: '/a1', seen: '2' });

      const third = await build(configFor(dir, [A], { memoryMb: 24 }), {}, second.host, second.log, second.metrics);
      await second.host.close();
      const v3: RemoteVersion = third.host.units.get(A)!.version;
      expect(v3).not.toBe(va);
      expect(v3.limits.memoryMb).toBe(24);
      expect(await run(third.host, A)).toEqual({ path: '/a1', seen: '3' });
      // b.js is no longer named by any route: its isolate is gone.
      expect(second.host.units.get(B)!.version.alive).toBe(false);
      await third.host.close();
      expect(v3.alive).toBe(false);
    } finally {
      await second.host.close();
    }
  });

  it('a new script that does not compile fails the build; the running host is untouched', async () => {
    const A = dir.write('keep.js', version('k1'));
    const first = await build(configFor(dir, [A]));
    try {
      const bad = dir.write('bad.js', 'export function onMessage() { return route(; }');
      await expect(build(configFor(dir, [A, bad]), {}, first.host)).rejects.toMatchObject({ code: 'TG_ERR_CONFIG_INVALID' });
      expect(await path(first.host, A)).toBe('/k1');
      expect(first.host.units.get(A)!.holders).toBe(1);
    } finally {
      await first.host.close();
    }
  });
});

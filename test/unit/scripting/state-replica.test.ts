/**
 * Shared ctx.state: the script thread's replica (StateStore with `shared`)
 * and the main thread's side (SharedScriptState) over the embedded store,
 * with several nodes in one process. Replicas read their own writes at once,
 * keep them against older announcements, and converge on the stored state
 * whatever the interleaving.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { StateStore } from '../../../src/scripting/state-store.js';
import { SharedScriptState } from '../../../src/scripting/shared-state.js';
import { EmbeddedHub } from '../../../src/state/index.js';
import { EmbeddedScriptState } from '../../../src/state/embedded/script-state.js';
import type { ScriptStateStore } from '../../../src/state/index.js';

const LIMITS = { maxEntries: 1000, maxBytes: 1 << 20, shared: true };
const quiet = pino({ level: 'silent' });
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A node: its replica wired to the shared store as a script thread's would be (messages crossing on later turns). */
function node(id: string, store: ScriptStateStore, limits = LIMITS): { replica: StateStore; shared: SharedScriptState } {
  const shared = new SharedScriptState(store, quiet);
  let joined: ReturnType<SharedScriptState['join']> | undefined;
  const replica: StateStore = new StateStore(limits, (writes, evicted) => setImmediate(() => joined?.write(writes, evicted)));
  joined = shared.join('s.js', {
    apply: (changes) => setImmediate(() => replica.apply(changes)),
    ack: (keys) => setImmediate(() => replica.ack(keys)),
    load: (entries, keep) => setImmediate(() => replica.load(entries, keep)),
  });
  void id;
  return { replica, shared };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await turn();
}

function contents(s: StateStore, keys: readonly string[]): Record<string, string | undefined> {
  return Object.fromEntries(keys.map((k) => [k, s.get(k)]));
}

describe('StateStore as a shared replica', () => {
  it('hands on one turn of writes once, last value per key, deletes as null', async () => {
    const handed: Array<[Array<[string, string | null]>, Array<[string, string]>]> = [];
    const s = new StateStore(LIMITS, (w, e) => handed.push([w, e]));
    s.set('a', '1');
    s.set('b', '2');
    s.set('a', '3');
    s.delete('b');
    s.delete('never-here');
    expect(handed).toEqual([]);
    await turn();
    expect(handed).toEqual([
      [
        [
          ['a', '3'],
          ['b', null],
          ['never-here', null],
        ],
        [],
      ],
    ]);
  });

  it('keeps a key it has written against announcements until its own write is acknowledged', async () => {
    const s = new StateStore(LIMITS, () => {});
    s.set('k', '"mine"');
    s.apply([['k', '"older"']]);
    expect(s.get('k')).toBe('"mine"');
    await turn();
    s.apply([
      ['k', '"older"'],
      ['other', '1'],
    ]);
    expect(s.get('k')).toBe('"mine"');
    expect(s.get('other')).toBe('1');
    s.ack(['k']);
    s.apply([['k', '"newer"']]);
    expect(s.get('k')).toBe('"newer"');
  });

  it('reports entries it drops under its bounds, except keys with writes in flight', async () => {
    const handed: Array<[string, string]> = [];
    const s = new StateStore({ maxEntries: 2, maxBytes: 1 << 20, shared: true }, (_w, e) => handed.push(...e));
    s.apply([
      ['x', '1'],
      ['y', '2'],
      ['z', '3'],
    ]);
    await turn();
    expect(handed).toEqual([['x', '1']]);
  });

  it('a load replaces the entries except keys in flight and keys changed since it was asked for', () => {
    const s = new StateStore(LIMITS, () => {});
    s.apply([
      ['stale', '1'],
      ['newer', '"heard"'],
    ]);
    s.set('mine', '"local"');
    s.load(
      [
        ['newer', '"loaded"'],
        ['mine', '"stored"'],
        ['fresh', '2'],
      ],
      ['newer'],
    );
    expect(contents(s, ['stale', 'newer', 'mine', 'fresh'])).toEqual({ stale: undefined, newer: '"heard"', mine: '"local"', fresh: '2' });
  });

  it('without `shared` hands nothing on', async () => {
    let handed = 0;
    const s = new StateStore({ maxEntries: 10, maxBytes: 1 << 20 }, () => handed++);
    s.set('a', '1');
    s.delete('a');
    await turn();
    expect(handed).toBe(0);
  });
});

describe('SharedScriptState: nodes converge on the stored state', () => {
  it('a node that joins loads what is stored; later writes reach every replica', async () => {
    const hub = new EmbeddedHub();
    const a = node('a', new EmbeddedScriptState('a', hub));
    a.replica.set('seen:dev-1', '17');
    await settle();
    const b = node('b', new EmbeddedScriptState('b', hub));
    await settle();
    expect(b.replica.get('seen:dev-1')).toBe('17');
    b.replica.set('seen:dev-2', '4');
    b.replica.delete('seen:dev-1');
    await settle();
    expect(contents(a.replica, ['seen:dev-1', 'seen:dev-2'])).toEqual({ 'seen:dev-1': undefined, 'seen:dev-2': '4' });
  });

  it('concurrent writers on three nodes end with every replica equal to the store, last writer wins', async () => {
    const hub = new EmbeddedHub();
    const nodes = ['a', 'b', 'c'].map((id) => node(id, new EmbeddedScriptState(id, hub)));
    const keys = ['k0', 'k1', 'k2', 'k3'];
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const n = nodes[rand(3)]!;
      const k = keys[rand(4)]!;
      if (rand(5) === 0) n.replica.delete(k);
      else n.replica.set(k, String(round));
      // Own writes read back at once, whatever is in flight.
      if (n.replica.has(k)) expect(n.replica.get(k)).toBe(String(round));
      if (rand(3) === 0) await turn();
    }
    await settle();
    const stored = Object.fromEntries(keys.map((k) => [k, hub.scriptState.get('s.js')?.get(k)]));
    for (const n of nodes) expect(contents(n.replica, keys)).toEqual(stored);
  });
});

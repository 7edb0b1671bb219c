/** The ScriptStateStore contract (src/state/script-state.ts), run on every implementation. */
import { afterEach, describe, expect, it } from 'vitest';
import type { ScriptStateAnnouncement, ScriptStateStore } from '../../../src/state/index.js';

export interface ScriptStateWorld {
  node(nodeId: string): ScriptStateStore;
  close(): Promise<void>;
}

/** Listens on a node and collects what it hears, in order. */
async function hear(store: ScriptStateStore): Promise<{ heard: ScriptStateAnnouncement[]; until(n: number): Promise<void> }> {
  const heard: ScriptStateAnnouncement[] = [];
  await store.listen({ changed: (a) => heard.push(a), resync: () => {} });
  return {
    heard,
    async until(n) {
      const end = Date.now() + 5000;
      while (heard.length < n) {
        if (Date.now() > end) throw new Error(`heard ${heard.length} of ${n} batches within 5 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

/** What a replica ends with after applying the announcements in order. */
function replay(heard: readonly ScriptStateAnnouncement[], script: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of heard) {
    if (a.script !== script) continue;
    for (const [k, v] of a.changes) {
      if (v === null) m.delete(k);
      else m.set(k, v);
    }
  }
  return m;
}

export function scriptStateContract(name: string, makeWorld: () => Promise<ScriptStateWorld>): void {
  describe(`ScriptStateStore contract: ${name}`, () => {
    let world: ScriptStateWorld | undefined;
    afterEach(async () => {
      await world?.close();
      world = undefined;
    });

    it('stores a batch and announces it to every node, the writer included', async () => {
      world = await makeWorld();
      const a = world.node('a');
      const b = world.node('b');
      const onA = await hear(a);
      const onB = await hear(b);
      expect(
        await a.write({
          script: 's.js',
          seq: 7,
          changes: [
            ['k1', '{"n":1}'],
            ['k2', '"two"'],
          ],
        }),
      ).toBe(true);
      await onA.until(1);
      await onB.until(1);
      const expected = {
        node: 'a',
        script: 's.js',
        seq: 7,
        changes: [
          ['k1', '{"n":1}'],
          ['k2', '"two"'],
        ],
      };
      expect(onA.heard).toEqual([expected]);
      expect(onB.heard).toEqual([expected]);
      expect(new Map(await b.load('s.js'))).toEqual(
        new Map([
          ['k1', '{"n":1}'],
          ['k2', '"two"'],
        ]),
      );
    });

    it('deletes a key with a null change, and keeps each script apart', async () => {
      world = await makeWorld();
      const a = world.node('a');
      await a.write({
        script: 'one.js',
        seq: 1,
        changes: [
          ['k', '1'],
          ['gone', '2'],
        ],
      });
      await a.write({ script: 'two.js', seq: 2, changes: [['k', '"other"']] });
      await a.write({ script: 'one.js', seq: 3, changes: [['gone', null]] });
      expect(await a.load('one.js')).toEqual([['k', '1']]);
      expect(await a.load('two.js')).toEqual([['k', '"other"']]);
      expect(await a.load('none.js')).toEqual([]);
    });

    it('every node hears concurrent writers in one order, and that order ends where the store is', async () => {
      world = await makeWorld();
      const a = world.node('a');
      const b = world.node('b');
      const onA = await hear(a);
      const onB = await hear(b);
      const writes: Array<Promise<boolean>> = [];
      for (let i = 0; i < 40; i++) {
        writes.push(
          a.write({
            script: 's.js',
            seq: i,
            changes: [
              ['shared', `"a${i}"`],
              [`a${i % 5}`, String(i)],
            ],
          }),
        );
        writes.push(
          b.write({
            script: 's.js',
            seq: i,
            changes: [
              ['shared', `"b${i}"`],
              ['b', i % 7 === 0 ? null : String(i)],
            ],
          }),
        );
      }
      expect(await Promise.all(writes)).toEqual(writes.map(() => true));
      await onA.until(80);
      await onB.until(80);
      const order = (h: readonly ScriptStateAnnouncement[]): string[] => h.map((x) => `${x.node}${x.seq}`);
      expect(order(onA.heard)).toEqual(order(onB.heard));
      expect(new Map(await a.load('s.js'))).toEqual(replay(onA.heard, 's.js'));
    });

    it('a later listen() replaces the listener: each batch is heard once', async () => {
      world = await makeWorld();
      const a = world.node('a');
      const first = await hear(a);
      const second = await hear(a);
      await a.write({ script: 's.js', seq: 1, changes: [['k', '1']] });
      await second.until(1);
      await new Promise((r) => setTimeout(r, 50));
      expect([first.heard.length, second.heard.length]).toEqual([0, 1]);
    });

    it('evicts a key only while it still holds the value the node dropped, without announcing it', async () => {
      world = await makeWorld();
      const a = world.node('a');
      const b = world.node('b');
      const onB = await hear(b);
      await a.write({
        script: 's.js',
        seq: 1,
        changes: [
          ['old', '1'],
          ['rewritten', '1'],
        ],
      });
      await a.write({ script: 's.js', seq: 2, changes: [['rewritten', '2']] });
      await onB.until(2);
      await b.evict('s.js', [
        ['old', '1'],
        ['rewritten', '1'],
      ]);
      expect(await a.load('s.js')).toEqual([['rewritten', '2']]);
      await new Promise((r) => setTimeout(r, 50));
      expect(onB.heard).toHaveLength(2);
    });
  });
}

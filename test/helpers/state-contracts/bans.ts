/** The BanStore contract (src/state/bans.ts), run on every implementation. */
import { afterEach, describe, expect, it } from 'vitest';
import type { BanStore, StoredBan } from '../../../src/state/index.js';

export interface BanWorld {
  /** A store over the same storage: after a restart (file), or on another node (shared store). */
  open(): BanStore;
  /** Whether another instance's changes are announced through `watch` (a shared store). */
  readonly notifies: boolean;
  close(): Promise<void>;
}

const ban = (id: string, value: string): StoredBan => ({
  id,
  kind: 'clientId',
  value,
  reason: 'test',
  source: 'api',
  createdAt: 1,
  expiresAt: 4_000_000_000_000,
});

export function banStoreContract(name: string, makeWorld: () => Promise<BanWorld>): void {
  describe(`BanStore contract: ${name}`, () => {
    let world: BanWorld | undefined;
    const opened: BanStore[] = [];
    const open = (): BanStore => {
      const s = world!.open();
      opened.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await world?.close();
      world = undefined;
    });

    it('keeps what was put for the next instance, and forgets what was deleted', async () => {
      world = await makeWorld();
      const a = open();
      await a.put(ban('b1', 'dev-1'));
      await a.put(ban('b2', 'dev-2'));
      await a.delete('b1');
      const b = open();
      expect(await b.all()).toEqual([ban('b2', 'dev-2')]);
    });

    it('tells a watching instance when another one changed the bans', async () => {
      world = await makeWorld();
      if (!world.notifies) {
        // A store that only this process writes has nobody to hear from: its watch never fires.
        const a = open();
        let fired = 0;
        a.watch(() => fired++);
        await a.put(ban('b3', 'dev-3'));
        expect(fired).toBe(0);
        return;
      }
      const a = open();
      const b = open();
      const changed = new Promise<void>((resolve) => b.watch(resolve));
      await new Promise((r) => setTimeout(r, 50)); // b's subscription settles
      await a.put(ban('b4', 'dev-4'));
      await changed;
      expect((await b.all()).map((x) => x.id)).toEqual(['b4']);
    });
  });
}

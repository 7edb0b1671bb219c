/** The Counters contract (src/state/counters.ts), run on every implementation. */
import { afterEach, describe, expect, it } from 'vitest';
import type { Counters } from '../../../src/state/index.js';

export interface CountersWorld {
  /** Another node's view of the same counters. */
  node(): Counters;
  close(): Promise<void>;
}

export function countersContract(name: string, makeWorld: () => Promise<CountersWorld>): void {
  describe(`Counters contract: ${name}`, () => {
    let world: CountersWorld | undefined;
    afterEach(async () => {
      await world?.close();
      world = undefined;
    });

    it('sums the adds of every node within a window, key by key', async () => {
      world = await makeWorld();
      const a = world.node();
      const b = world.node();
      expect(await a.add('connects:dev-1', 1, 60_000)).toBe(1);
      expect(await b.add('connects:dev-1', 2, 60_000)).toBe(3);
      expect(await a.add('connects:dev-1', 1, 60_000)).toBe(4);
      expect(await b.add('connects:dev-2', 1, 60_000)).toBe(1);
    });

    it('starts again at the next window', async () => {
      world = await makeWorld();
      const a = world.node();
      await a.add('w', 5, 200);
      await new Promise((r) => setTimeout(r, 250));
      expect(await a.add('w', 1, 200)).toBe(1);
    });
  });
}

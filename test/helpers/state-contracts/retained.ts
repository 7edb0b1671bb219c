/**
 * The RetainedStore contract (src/state/retained.ts): every implementation
 * runs this suite with its own factory.
 */
import { describe, expect, it } from 'vitest';
import type { RetainedStore } from '../../../src/state/retained.js';

interface Msg {
  readonly topic: string;
  readonly v: string;
}

const m = (topic: string, v: string): Msg => ({ topic, v });

/**
 * `make(maxMessages, maxBytes)` builds an empty store with those bounds;
 * `reopen` (durable stores) closes a store and opens another over the same
 * data, as a new process would see it.
 */
export function retainedStoreContract(
  name: string,
  make: (maxMessages: number, maxBytes: number) => Promise<RetainedStore<Msg>> | RetainedStore<Msg>,
  reopen?: (store: RetainedStore<Msg>) => Promise<RetainedStore<Msg>>,
): void {
  describe(`RetainedStore contract: ${name}`, () => {
    it('keeps the last message per topic and matches filters with wildcards', async () => {
      const store = await make(100, 10_000);
      await store.set('a/b/c', m('a/b/c', '1'), 1);
      await store.set('a/b/c', m('a/b/c', '2'), 1);
      await store.set('a/x', m('a/x', '3'), 1);
      await store.set('$SYS/x', m('$SYS/x', '4'), 1);
      expect(await store.count()).toBe(3);
      expect((await store.match('a/b/c')).map((x) => x.v)).toEqual(['2']);
      expect((await store.match('a/+/c')).map((x) => x.v)).toEqual(['2']);
      expect((await store.match('a/#')).map((x) => x.v).sort()).toEqual(['2', '3']);
      // [MQTT-4.7.2-1]: a leading wildcard does not match '$' topics.
      expect((await store.match('#')).map((x) => x.v).sort()).toEqual(['2', '3']);
      expect((await store.match('$SYS/#')).map((x) => x.v)).toEqual(['4']);
      await store.close();
    });

    it('deletes a topic and says whether it had one', async () => {
      const store = await make(100, 10_000);
      await store.set('t', m('t', '1'), 1);
      expect(await store.delete('t')).toBe(true);
      expect(await store.delete('t')).toBe(false);
      expect(await store.match('t')).toEqual([]);
      await store.close();
    });

    it('refuses a new topic beyond its bounds but still replaces existing ones', async () => {
      const store = await make(2, 10);
      expect(await store.set('a', m('a', '1'), 4)).toBe('stored');
      expect(await store.set('b', m('b', '2'), 4)).toBe('stored');
      expect(await store.set('c', m('c', '3'), 1)).toBe('full'); // 3 topics > 2
      expect(await store.set('a', m('a', '4'), 6)).toBe('stored'); // 10 bytes: fits
      expect(await store.set('b', m('b', '5'), 5)).toBe('full'); // 11 bytes > 10
      expect((await store.match('+')).map((x) => x.v).sort()).toEqual(['2', '4']);
      await store.delete('a');
      expect(await store.set('c', m('c', '6'), 5)).toBe('stored');
      await store.close();
    });

    if (reopen)
      it('keeps retained messages and their deletions across a reopen', async () => {
        let store = await make(100, 10_000);
        await store.set('a/1', m('a/1', '1'), 1);
        await store.set('a/2', m('a/2', '2'), 1);
        await store.set('a/1', m('a/1', '3'), 1);
        await store.delete('a/2');
        store = await reopen!(store);
        expect(await store.count()).toBe(1);
        expect(await store.match('a/#')).toEqual([m('a/1', '3')]);
        await store.close();
      });
  });
}

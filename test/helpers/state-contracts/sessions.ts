/**
 * The SessionStore contract (src/state/sessions.ts): every implementation
 * runs this suite with its own factory.
 */
import { describe, expect, it } from 'vitest';
import type { PendingMessage, SessionStore, StoredSession } from '../../../src/state/sessions.js';

interface Msg {
  readonly n: number;
}

const pending = (n: number, bytes = 10, packetId?: number): PendingMessage<Msg> => ({
  message: { n },
  qos: 1,
  bytes,
  ...(packetId !== undefined && { packetId }),
});

const session = (clientId: string, expiresAt: number, ps: Array<PendingMessage<Msg>> = []): StoredSession<Msg> => ({
  clientId,
  expiresAt,
  subscriptions: [{ filter: `to/${clientId}/#`, qos: 1 }],
  pending: ps,
});

/**
 * `reopen` (durable stores) closes a store and opens another over the same
 * data, as a new process would see it.
 */
export function sessionStoreContract(
  name: string,
  make: () => Promise<SessionStore<Msg>> | SessionStore<Msg>,
  reopen?: (store: SessionStore<Msg>) => Promise<SessionStore<Msg>>,
): void {
  describe(`SessionStore contract: ${name}`, () => {
    it('returns a saved session once, with its subscriptions and pending messages in order', async () => {
      const store = await make();
      await store.save(session('a', Date.now() + 60_000, [pending(1, 10, 7), pending(2)]));
      expect(await store.count()).toBe(1);
      const got = await store.take('a');
      expect(got?.subscriptions).toEqual([{ filter: 'to/a/#', qos: 1 }]);
      expect(got?.pending.map((p) => [p.message.n, p.packetId])).toEqual([
        [1, 7],
        [2, undefined],
      ]);
      expect(await store.take('a')).toBeUndefined();
      await store.close();
    });

    it('queues messages for a stored session in order and refuses the newest beyond the bounds', async () => {
      const store = await make();
      expect(await store.enqueue('nobody', pending(1), { maxMessages: 10, maxBytes: 1000 })).toBe('no-session');
      await store.save(session('b', Date.now() + 60_000, [pending(0, 10, 1)]));
      const limits = { maxMessages: 3, maxBytes: 35 };
      expect(await store.enqueue('b', pending(1), limits)).toBe('queued');
      expect(await store.enqueue('b', pending(2, 20), limits)).toBe('full'); // 40 bytes > 35
      expect(await store.enqueue('b', pending(3), limits)).toBe('queued');
      expect(await store.enqueue('b', pending(4), limits)).toBe('full'); // 4 messages > 3
      const got = await store.take('b');
      expect(got?.pending.map((p) => p.message.n)).toEqual([0, 1, 3]);
      await store.close();
    });

    it('expires sessions at their deadline and keeps the others', async () => {
      const store = await make();
      await store.save(session('old', 1000));
      await store.save(session('new', 5000));
      expect((await store.expire(999)).length).toBe(0);
      const gone = await store.expire(1000);
      expect(gone.map((s) => s.clientId)).toEqual(['old']);
      expect(await store.take('old')).toBeUndefined();
      expect((await store.take('new'))?.clientId).toBe('new');
      await store.close();
    });

    it('replaces a session saved again under the same client id', async () => {
      const store = await make();
      await store.save(session('c', Date.now() + 1000, [pending(1)]));
      await store.save(session('c', Date.now() + 2000, [pending(2)]));
      expect(await store.count()).toBe(1);
      expect((await store.take('c'))?.pending.map((p) => p.message.n)).toEqual([2]);
      await store.close();
    });

    it('keeps the delayed Will of a stored session until it is cleared', async () => {
      const store = await make();
      const will = { at: Date.now() + 5000, data: { topic: 'w' } };
      await store.save({ ...session('w', Date.now() + 60_000), will });
      await store.save({ ...session('w2', Date.now() + 60_000), will });
      if (store.clearWill) await store.clearWill('w2');
      if (reopen && store.clearWill) {
        const again = await reopen(store);
        expect((await again.take('w'))?.will).toEqual(will);
        expect((await again.take('w2'))?.will).toBeUndefined();
        await again.close();
        return;
      }
      expect((await store.take('w'))?.will).toEqual(will);
      await store.close();
    });

    describe('delayed Wills (optional: claimWill, claimDueWills)', () => {
      const will = (at: number) => ({ at, data: { topic: `w/${at}` } });

      it('gives a stored Will to one claimer only, and to none once its session was taken', async () => {
        const store = await make();
        if (!store.claimWill) return void (await store.close());
        const w = will(Date.now() + 5000);
        await store.save({ ...session('cw', Date.now() + 60_000), will: w });
        await store.save({ ...session('gone', Date.now() + 60_000), will: w });
        const claims = await Promise.all([store.claimWill('cw'), store.claimWill('cw')]);
        expect(claims.filter((c) => c !== undefined)).toEqual([w]);
        expect(await store.claimWill('cw')).toBeUndefined();
        expect((await store.take('cw'))?.will).toBeUndefined();
        expect((await store.take('gone'))?.will).toEqual(w); // the client came back: it takes the Will with its session
        expect(await store.claimWill('gone')).toBeUndefined();
        expect(await store.claimWill('nobody')).toBeUndefined();
        await store.close();
      });

      it('claims the Wills due, each once, and keeps their sessions', async () => {
        const store = await make();
        if (!store.claimDueWills) return void (await store.close());
        const now = Date.now();
        await store.save({ ...session('due', now + 60_000), listener: 'mqtt-a', will: will(now - 1) });
        await store.save({ ...session('later', now + 60_000), will: will(now + 30_000) });
        await store.save(session('none', now + 60_000));
        const [first, second] = await Promise.all([store.claimDueWills(now), store.claimDueWills(now)]);
        expect([...first!, ...second!]).toEqual([{ clientId: 'due', listener: 'mqtt-a', will: will(now - 1) }]);
        expect(await store.claimDueWills(now)).toEqual([]);
        expect((await store.take('due'))?.will).toBeUndefined();
        expect(await store.count()).toBe(2);
        expect((await store.claimDueWills(now + 30_000)).map((d) => d.clientId)).toEqual(['later']);
        await store.close();
      });

      if (reopen)
        it('makes the Will of a session held when its process stopped due its delay after the next process reads it', async () => {
          const first = await make();
          if (!first.hold || !first.claimDueWills) return void (await first.close());
          const data = { topic: 'w/held' };
          await first.hold({ clientId: 'hw', subscriptions: [], expirySeconds: 60, listener: 'mqtt', will: { delaySeconds: 5, data } });
          await first.hold({ clientId: 'hx', subscriptions: [], expirySeconds: 60, listener: 'mqtt' });
          expect(await first.claimDueWills(Number.MAX_SAFE_INTEGER)).toEqual([]); // held: its connection lives
          const before = Date.now();
          const store = await reopen(first);
          if (!store.claimDueWills) throw new Error('a reopened store keeps its members');
          // A shared store adopts what a dead node held (embedded: at open).
          if (store.adoptOrphans) expect(await store.adoptOrphans(false)).toBe(2);
          if (store.adoptOrphans) expect(await store.adoptOrphans(false)).toBe(0);
          expect(await store.count()).toBe(2);
          expect(await store.claimDueWills(before + 4000)).toEqual([]);
          const due = await store.claimDueWills(Date.now() + 5000);
          expect(due.map((d) => [d.clientId, d.listener, d.will.data])).toEqual([['hw', 'mqtt', data]]);
          expect(due[0]!.will.at).toBeGreaterThanOrEqual(before + 5000);
          expect(due[0]!.will.at).toBeLessThanOrEqual(Date.now() + 5000);
          expect((await store.expire(Date.now() + 60_000)).map((s) => s.clientId).sort()).toEqual(['hw', 'hx']);
          await store.close();
        });
    });

    describe('held sessions (optional: hold, update)', () => {
      const held = (clientId: string, expirySeconds = 60) => ({
        clientId,
        subscriptions: [{ filter: `to/${clientId}/#`, qos: 1 as const }],
        expirySeconds,
        listener: 'mqtt',
      });
      const limits = { maxMessages: 10, maxBytes: 1000 };

      it('keeps a held session apart and gives it back with its latest subscriptions and the messages still owed, in order', async () => {
        const store = await make();
        if (!store.hold || !store.update) return void (await store.close());
        await store.hold(held('h'));
        await store.update('h', {
          put: [
            [1, pending(1)],
            [2, pending(2)],
            [3, pending(3)],
          ],
        });
        await store.update('h', { put: [[1, pending(1, 10, 5)]], del: [2], subscriptions: [{ filter: 'x/#', qos: 0 }] });
        expect(await store.count()).toBe(0);
        expect(await store.enqueue('h', pending(9), limits)).toBe('no-session');
        expect(await store.expire(Number.MAX_SAFE_INTEGER)).toEqual([]);
        expect((await store.list?.())?.map((s) => s.clientId) ?? []).toEqual([]);
        const before = Date.now();
        const got = await store.take('h');
        expect(got?.subscriptions).toEqual([{ filter: 'x/#', qos: 0 }]);
        expect(got?.pending.map((p) => [p.message.n, p.packetId])).toEqual([
          [1, 5],
          [3, undefined],
        ]);
        expect(got?.expiresAt).toBeGreaterThanOrEqual(before + 60_000);
        expect(got?.expiresAt).toBeLessThanOrEqual(Date.now() + 60_000);
        expect(await store.take('h')).toBeUndefined();
        await store.close();
      });

      it('replaces a held session with the session saved when its connection ends, and ignores changes to one not held', async () => {
        const store = await make();
        if (!store.hold || !store.update) return void (await store.close());
        await store.update('nobody', { put: [[1, pending(1)]] });
        expect(await store.take('nobody')).toBeUndefined();
        await store.save(session('r', Date.now() + 60_000, [pending(7)]));
        await store.hold(held('r')); // resumed: the stored session gives way
        await store.update('r', {
          put: [
            [1, pending(1)],
            [2, pending(2)],
          ],
        });
        await store.save(session('r', Date.now() + 60_000, [pending(2, 10, 3)]));
        expect(await store.count()).toBe(1);
        expect(await store.enqueue('r', pending(4), limits)).toBe('queued');
        expect((await store.take('r'))?.pending.map((p) => p.message.n)).toEqual([2, 4]);
        await store.close();
      });

      if (reopen)
        it('gives a held session back after a reopen (a new process), expiring from then', async () => {
          let store = await make();
          if (!store.hold || !store.update) return void (await store.close());
          await store.hold(held('k', 30));
          await store.hold(held('never', 0xffffffff));
          await store.update('k', { put: [[1, pending(1, 10, 1)]], subscriptions: [{ filter: 'k/#', qos: 1 }] });
          await store.update('k', {
            put: [
              [2, { ...pending(2, 10, 2), released: true }],
              [3, pending(3)],
              [4, pending(4)],
            ],
            del: [3],
          });
          store = await reopen(store);
          const before = Date.now();
          // A store that lists its sessions parks them again at start (embedded): the held one is a stored one now.
          if (store.list) expect((await store.list()).map((s) => s.clientId).sort()).toEqual(['k', 'never']);
          const got = await store.take('k');
          expect(got?.subscriptions).toEqual([{ filter: 'k/#', qos: 1 }]);
          expect(got?.pending).toEqual([
            { message: { n: 1 }, qos: 1, bytes: 10, packetId: 1 },
            { message: { n: 2 }, qos: 1, bytes: 10, packetId: 2, released: true },
            { message: { n: 4 }, qos: 1, bytes: 10 },
          ]);
          expect(got?.expiresAt).toBeGreaterThanOrEqual(before + 30_000 - 5_000);
          expect(got?.expiresAt).toBeLessThanOrEqual(Date.now() + 30_000);
          expect((await store.take('never'))?.expiresAt).toBe(Number.MAX_SAFE_INTEGER);
          await store.close();
        });
    });

    if (reopen)
      it('keeps sessions, subscriptions and queued messages, in order, across a reopen', async () => {
        let store = await make();
        await store.save(session('d', Date.now() + 60_000, [{ ...pending(1, 10, 7), released: true }, pending(2)]));
        await store.save(session('gone', Date.now() + 60_000, [pending(9)]));
        expect(await store.enqueue('d', { ...pending(3), subscriptionIds: [4] }, { maxMessages: 10, maxBytes: 1000 })).toBe('queued');
        await store.take('gone');
        store = await reopen!(store);
        expect(await store.count()).toBe(1);
        expect(await store.take('gone')).toBeUndefined();
        const got = await store.take('d');
        expect(got?.subscriptions).toEqual([{ filter: 'to/d/#', qos: 1 }]);
        expect(got?.pending).toEqual([
          { message: { n: 1 }, qos: 1, bytes: 10, packetId: 7, released: true },
          { message: { n: 2 }, qos: 1, bytes: 10 },
          { message: { n: 3 }, qos: 1, bytes: 10, subscriptionIds: [4] },
        ]);
        await store.close();
      });
  });
}

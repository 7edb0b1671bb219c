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

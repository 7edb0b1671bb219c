/**
 * The MailboxStore contract suite: every implementation (embedded, Redis)
 * runs it through its factory. `reopen` gives a store over the same data as
 * a new process would see it (durability).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MailboxLimits, MailboxStore, NewCommand } from '../../../src/state/mailbox.js';

export interface MailboxFactory {
  /** A new, empty, opened store. */
  create(): Promise<MailboxStore>;
  /** Closes `store` and opens another over the same data. */
  reopen(store: MailboxStore): Promise<MailboxStore>;
  /**
   * A second store open over the same data at the same time, as another
   * node sees it (a shared backend); without it, racing callers share `store`.
   */
  peer?(store: MailboxStore): Promise<MailboxStore>;
}

const LIMITS: MailboxLimits = { maxMessagesPerDevice: 3, maxBytesPerDevice: 100, maxMessagesTotal: 5 };
const LARGE: MailboxLimits = { maxMessagesPerDevice: 1000, maxBytesPerDevice: 1e9, maxMessagesTotal: 1000 };

let n = 0;
function command(clientId: string, over: Partial<NewCommand> = {}): NewCommand {
  n++;
  return {
    id: `c${String(n).padStart(8, '0')}`,
    clientId,
    address: `commands/${clientId}`,
    payload: Buffer.from(`p${n}`).toString('base64'),
    qos: 1,
    response: 'none',
    size: 10,
    expiresAt: 10_000,
    createdAt: 1000,
    ...over,
  };
}

export function mailboxContract(name: string, factory: MailboxFactory): void {
  describe(`MailboxStore contract: ${name}`, () => {
    const open: MailboxStore[] = [];
    const make = async (): Promise<MailboxStore> => {
      const s = await factory.create();
      open.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close().catch(() => undefined);
    });

    it('keeps each device queue in order and apart from other devices', async () => {
      const s = await make();
      const a1 = command('a');
      const b1 = command('b');
      const a2 = command('a');
      for (const c of [a1, b1, a2]) expect((await s.enqueue(c, LARGE)).ok).toBe(true);
      expect((await s.queued('a', 10)).map((r) => r.id)).toEqual([a1.id, a2.id]);
      expect((await s.queued('b', 10)).map((r) => r.id)).toEqual([b1.id]);
      expect((await s.list('a', 10)).map((r) => r.id)).toEqual([a1.id, a2.id]);
      expect(await s.devicesWithQueued()).toEqual(expect.arrayContaining(['a', 'b']));
    });

    it('records every state with its timestamp and refuses transitions the contract forbids', async () => {
      const s = await make();
      const c = command('a', { response: 'sync' });
      await s.enqueue(c, LARGE);
      expect(await s.transition(c.id, 'delivered', { at: 1 })).toBeUndefined(); // queued → delivered skips sent
      expect((await s.transition(c.id, 'sent', { at: 2000 }))?.attempts).toBe(1);
      expect((await s.transition(c.id, 'delivered', { at: 2100 }))?.state).toBe('delivered');
      const done = await s.transition(c.id, 'responded', { at: 2200, deviceResponse: { status: 200, payload: 'b2s=' } });
      expect(done?.timestamps).toEqual({ queued: 1000, sent: 2000, delivered: 2100, responded: 2200 });
      expect(done?.deviceResponse?.payload).toBe('b2s=');
      expect(await s.transition(c.id, 'cancelled', { at: 2300 })).toBeUndefined(); // final
      expect((await s.get(c.id))?.state).toBe('responded');
      expect(await s.get('nope')).toBeUndefined();
    });

    it('bounds each device in messages and bytes and every device in total, and frees the room once delivered', async () => {
      const s = await make();
      for (let i = 0; i < 3; i++) expect((await s.enqueue(command('a'), LIMITS)).ok).toBe(true);
      expect(await s.enqueue(command('a'), LIMITS)).toEqual({ ok: false, full: { limit: 'device-messages', max: 3 } });
      expect(await s.enqueue(command('b', { size: 101 }), LIMITS)).toEqual({ ok: false, full: { limit: 'device-bytes', max: 100 } });
      for (let i = 0; i < 2; i++) expect((await s.enqueue(command('b'), LIMITS)).ok).toBe(true);
      expect(await s.enqueue(command('c'), LIMITS)).toEqual({ ok: false, full: { limit: 'total-messages', max: 5 } });
      expect(await s.usage('a')).toEqual({ messages: 3, bytes: 30 });
      expect(await s.usage()).toEqual({ messages: 5, bytes: 50 });
      const first = (await s.queued('a', 1))[0]!;
      await s.transition(first.id, 'sent', { at: 1 });
      expect(await s.usage('a')).toEqual({ messages: 3, bytes: 30 }); // sent still occupies
      await s.transition(first.id, 'delivered', { at: 2 });
      expect(await s.usage('a')).toEqual({ messages: 2, bytes: 20 });
      expect((await s.enqueue(command('c'), LIMITS)).ok).toBe(true);
    });

    it('expires commands past their deadline, whatever non-final state they are in', async () => {
      const s = await make();
      const q = command('a', { expiresAt: 5000 });
      const later = command('a', { expiresAt: 50_000 });
      const waiting = command('a', { expiresAt: 5000, response: 'async' });
      for (const c of [q, later, waiting]) await s.enqueue(c, LARGE);
      await s.transition(waiting.id, 'sent', { at: 1100 });
      await s.transition(waiting.id, 'delivered', { at: 1200 });
      const expired = await s.expire(6000);
      expect(expired.map((r) => r.id).sort()).toEqual([q.id, waiting.id].sort());
      expect(expired.every((r) => r.state === 'expired' && r.timestamps.expired === 6000 && r.reason !== undefined)).toBe(true);
      expect((await s.queued('a', 10)).map((r) => r.id)).toEqual([later.id]);
      expect(await s.expire(6000)).toEqual([]);
    });

    it('ends a notification at delivered: it never expires afterwards and is purged like a final one', async () => {
      const s = await make();
      const c = command('a', { expiresAt: 5000 });
      await s.enqueue(c, LARGE);
      await s.transition(c.id, 'sent', { at: 1100 });
      await s.transition(c.id, 'delivered', { at: 1200 });
      expect(await s.expire(6000)).toEqual([]);
      expect((await s.get(c.id))?.state).toBe('delivered');
      expect(await s.purge(2000)).toBe(1);
    });

    it('cancels a queued command but not one already delivered', async () => {
      const s = await make();
      const a = command('a');
      const b = command('a');
      await s.enqueue(a, LARGE);
      await s.enqueue(b, LARGE);
      expect((await s.transition(a.id, 'cancelled', { at: 5, reason: 'by the API' }))?.reason).toBe('by the API');
      await s.transition(b.id, 'sent', { at: 6 });
      await s.transition(b.id, 'delivered', { at: 7 });
      expect(await s.transition(b.id, 'cancelled', { at: 8 })).toBeUndefined();
      expect(await s.queued('a', 10)).toEqual([]);
    });

    it('keeps queued commands, their order, occupancy and seen devices across a reopen, and requeues what was sent', async () => {
      let s = await make();
      const a1 = command('a');
      const a2 = command('a');
      const a3 = command('a');
      for (const c of [a1, a2, a3]) await s.enqueue(c, LARGE);
      await s.transition(a1.id, 'sent', { at: 1 });
      await s.transition(a3.id, 'cancelled', { at: 2 });
      await s.rememberDevice('a');
      s = await factory.reopen(s);
      open.push(s);
      expect(await s.knowsDevice('a')).toBe(true);
      expect(await s.knowsDevice('z')).toBe(false);
      expect(await s.usage('a')).toEqual({ messages: 2, bytes: 20 });
      expect(await s.requeueSent(3)).toEqual(['a']);
      expect((await s.queued('a', 10)).map((r) => r.id)).toEqual([a1.id, a2.id]);
      const later = command('a');
      await s.enqueue(later, LARGE);
      expect((await s.queued('a', 10)).map((r) => r.id)).toEqual([a1.id, a2.id, later.id]);
    });

    it('gives a command claimed for delivery (queued → sent) by two nodes at once to exactly one of them', async () => {
      const s = await make();
      const other = factory.peer ? await factory.peer(s) : s;
      if (other !== s) open.push(other);
      const cs = Array.from({ length: 20 }, () => command('a'));
      for (const c of cs) await s.enqueue(c, LARGE);
      for (const c of cs) {
        const [x, y] = await Promise.all([s.transition(c.id, 'sent', { at: 2, node: 'x' }), other.transition(c.id, 'sent', { at: 2, node: 'y' })]);
        expect([x, y].filter((r) => r !== undefined)).toHaveLength(1);
        const winner = (x ?? y)!;
        expect(winner.sentBy).toBe(x ? 'x' : 'y');
        expect(winner.attempts).toBe(1);
        expect((await other.get(c.id))?.sentBy).toBe(winner.sentBy);
      }
      expect(await s.queued('a', 100)).toEqual([]);
      expect(await other.usage('a')).toEqual({ messages: 20, bytes: 200 });
      // Queued again, it can be claimed again, by either.
      await s.transition(cs[0]!.id, 'queued', { at: 3, reason: 'not delivered' });
      expect((await other.transition(cs[0]!.id, 'sent', { at: 4, node: 'y' }))?.attempts).toBe(2);
    });

    it('purges final records older than the retention and keeps the rest', async () => {
      const s = await make();
      const old = command('a');
      const recent = command('a');
      const live = command('a');
      for (const c of [old, recent, live]) await s.enqueue(c, LARGE);
      await s.transition(old.id, 'cancelled', { at: 100 });
      await s.transition(recent.id, 'cancelled', { at: 900 });
      expect(await s.purge(500)).toBe(1);
      expect(await s.get(old.id)).toBeUndefined();
      expect((await s.list('a', 10)).map((r) => r.id)).toEqual([recent.id, live.id]);
    });
  });
}

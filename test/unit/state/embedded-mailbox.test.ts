import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { EmbeddedMailboxStore } from '../../../src/state/embedded/mailbox.js';
import type { MailboxStore, NewCommand } from '../../../src/state/mailbox.js';
import { mailboxContract } from '../../helpers/state-contracts/mailbox.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

mailboxContract('embedded (classic-level)', {
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'tg-mailbox-'));
    dirs.push(dir);
    const s = new EmbeddedMailboxStore(dir);
    await s.open();
    return s;
  },
  async reopen(store: MailboxStore) {
    const dir = (store as EmbeddedMailboxStore).directory;
    await store.close();
    const s = new EmbeddedMailboxStore(dir);
    await s.open();
    return s;
  },
});

describe('embedded mailbox: group commit and what is durable when', () => {
  const LIMITS = { maxMessagesPerDevice: 1000, maxBytesPerDevice: 1e9, maxMessagesTotal: 10_000 };
  const cmd = (id: string, clientId = 'a'): NewCommand => ({
    id,
    clientId,
    address: `cmd/${clientId}`,
    payload: 'eA==',
    qos: 1,
    response: 'sync',
    size: 1,
    expiresAt: 1e12,
    createdAt: 1,
  });
  const fresh = async (): Promise<EmbeddedMailboxStore> => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-mailbox-'));
    dirs.push(dir);
    const s = new EmbeddedMailboxStore(dir);
    await s.open();
    return s;
  };
  /** What a process killed now would find: the directory as it is on disk, copied while the store is open. */
  const afterCrash = async (s: EmbeddedMailboxStore): Promise<EmbeddedMailboxStore> => {
    const copy = mkdtempSync(join(tmpdir(), 'tg-mailbox-crash-'));
    dirs.push(copy);
    cpSync(s.directory, copy, { recursive: true, filter: (src) => !src.endsWith('LOCK') });
    const c = new EmbeddedMailboxStore(copy);
    await c.open();
    return c;
  };

  it('writes the state changes of one turn in one batch', async () => {
    const s = await fresh();
    const ids = Array.from({ length: 50 }, (_, i) => `g${String(i).padStart(3, '0')}`);
    await Promise.all(ids.map((id) => s.enqueue(cmd(id), LIMITS)));
    const batch = vi.spyOn((s as unknown as { db: { batch: (...a: unknown[]) => Promise<void> } }).db, 'batch');
    for (const id of ids) await s.transition(id, 'sent', { at: 2 });
    for (const id of ids) await s.transition(id, 'delivered', { at: 3 });
    expect((await s.queued('a', 100)).length).toBe(0);
    await s.close();
    expect(batch.mock.calls.length).toBe(1);
    expect((batch.mock.calls[0]![0] as unknown[]).length).toBe(100); // 50 records and 50 queue entries removed
  });

  it('has an enqueue and a cancellation on disk once they resolve', async () => {
    const s = await fresh();
    await s.enqueue(cmd('k1'), LIMITS);
    await s.enqueue(cmd('k2'), LIMITS);
    await s.enqueue(cmd('k3'), LIMITS);
    expect((await s.transition('k2', 'cancelled', { at: 5 }))?.state).toBe('cancelled');
    const crashed = await afterCrash(s);
    try {
      expect((await crashed.queued('a', 10)).map((r) => r.id)).toEqual(['k1', 'k3']);
      expect((await crashed.get('k2'))?.state).toBe('cancelled');
    } finally {
      await crashed.close();
      await s.close();
    }
  });

  it('after a crash, finds a command at most in an earlier state than the last one, and so delivers it again', async () => {
    const s = await fresh();
    await s.enqueue(cmd('x1'), LIMITS);
    await s.transition('x1', 'sent', { at: 2 });
    await s.transition('x1', 'delivered', { at: 3 });
    const crashed = await afterCrash(s); // the turn's batch has not been written yet
    try {
      expect((await crashed.get('x1'))?.state).toBe('queued');
      expect((await crashed.queued('a', 10)).map((r) => r.id)).toEqual(['x1']);
    } finally {
      await crashed.close();
    }
    expect((await s.get('x1'))?.state).toBe('delivered');
    await s.close();
    const reopened = new EmbeddedMailboxStore(s.directory);
    await reopened.open();
    expect((await reopened.get('x1'))?.state).toBe('delivered');
    await reopened.close();
  });
});

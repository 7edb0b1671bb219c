/**
 * The durable embedded session and retained stores (classic-level): the
 * same contract suites as every implementation, and what they keep across
 * a reopen of the same directory (a new process).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsonCodec } from '../../../src/state/codec.js';
import { DurableSessionStore } from '../../../src/state/embedded/durable-sessions.js';
import { DurableRetainedStore } from '../../../src/state/embedded/durable-retained.js';
import { sessionStoreContract } from '../../helpers/state-contracts/sessions.js';
import { retainedStoreContract } from '../../helpers/state-contracts/retained.js';

const dirs: string[] = [];
const dir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'tg-durable-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function opened<T extends { open(): Promise<void> }>(store: T): Promise<T> {
  await store.open();
  return store;
}

type Msg = { n: number } & { topic: string; v: string };
sessionStoreContract(
  'embedded (classic-level)',
  () => opened(new DurableSessionStore<Msg>(dir(), jsonCodec())),
  async (store) => {
    const d = (store as DurableSessionStore<Msg>).directory;
    await store.close();
    return opened(new DurableSessionStore<Msg>(d, jsonCodec()));
  },
);
retainedStoreContract(
  'embedded (classic-level)',
  (maxMessages, maxBytes) => opened(new DurableRetainedStore<Msg>(dir(), jsonCodec(), { maxMessages, maxBytes })),
  async (store) => {
    const d = (store as DurableRetainedStore<Msg>).directory;
    await store.close();
    return opened(new DurableRetainedStore<Msg>(d, jsonCodec(), { maxMessages: 100, maxBytes: 10_000 }));
  },
);

describe('durable embedded stores', () => {
  it('lists restored sessions with their listener and principal, without messages', async () => {
    const d = dir();
    const a = await opened(new DurableSessionStore<{ n: number }>(d, jsonCodec()));
    await a.save({ clientId: 'x', expiresAt: 9e15, listener: 'mqtt', principal: 'p', subscriptions: [{ filter: 'f/#', qos: 1 }], pending: [] });
    await a.close();
    const b = await opened(new DurableSessionStore<{ n: number }>(d, jsonCodec()));
    expect(await b.list()).toEqual([{ clientId: 'x', expiresAt: 9e15, listener: 'mqtt', principal: 'p', subscriptions: [{ filter: 'f/#', qos: 1 }] }]);
    await b.close();
  });

  it('drops stored messages that no longer decode', async () => {
    const d = dir();
    const a = await opened(new DurableRetainedStore<{ v: string }>(d, jsonCodec()));
    await a.set('t', { v: 'old' }, 3);
    await a.close();
    const refusing = { encode: JSON.stringify, decode: () => undefined };
    const b = await opened(new DurableRetainedStore<{ v: string }>(d, refusing));
    expect(await b.count()).toBe(0);
    await b.close();
  });
});

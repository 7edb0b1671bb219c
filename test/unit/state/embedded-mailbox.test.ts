import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { EmbeddedMailboxStore } from '../../../src/state/embedded/mailbox.js';
import type { MailboxStore } from '../../../src/state/mailbox.js';
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

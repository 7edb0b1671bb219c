/**
 * Bans in a file: `<guard.stateDir>/bans.json`, rewritten whole and
 * atomically (temporary file, then rename) on each change, so a restart keeps
 * them. Without a folder the bans live in memory only. One process owns the
 * file: nothing watches it.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BanStore, StoredBan } from '../bans.js';

export class FileBanStore implements BanStore {
  private readonly bans = new Map<string, StoredBan>();

  constructor(private readonly stateDir?: string) {
    const file = this.file();
    if (file === undefined) return;
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return; // no file yet, or an unreadable one: start without dynamic bans
    }
    if (!Array.isArray(data)) return;
    for (const b of data as StoredBan[]) if (typeof b?.id === 'string') this.bans.set(b.id, b);
  }

  all(): readonly StoredBan[] {
    return [...this.bans.values()];
  }

  put(ban: StoredBan): void {
    this.bans.set(ban.id, ban);
    this.persist();
  }

  delete(id: string): void {
    if (this.bans.delete(id)) this.persist();
  }

  watch(): () => void {
    return () => {};
  }

  async close(): Promise<void> {}

  private file(): string | undefined {
    return this.stateDir !== undefined ? join(this.stateDir, 'bans.json') : undefined;
  }

  private persist(): void {
    const file = this.file();
    if (file === undefined) return;
    mkdirSync(this.stateDir!, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify([...this.bans.values()], null, 1));
    renameSync(tmp, file);
  }
}

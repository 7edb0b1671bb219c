/**
 * Bans in Redis: the hash `bans` (id → JSON) and the channel `bans`, on which
 * each change is announced so every node reads the bans again. A change made
 * while Redis is unreachable is kept here and written when it comes back
 * (and counts in `all()` meanwhile), so a ban made during an outage holds on
 * this node at once and on the others after recovery.
 */
import type { BanStore, StoredBan } from '../bans.js';
import type { RedisLink } from './link.js';

export class RedisBanStore implements BanStore {
  /** Changes not yet written: a ban to put, or null for a deletion. */
  private readonly pending = new Map<string, StoredBan | null>();
  private readonly watchers = new Set<() => void>();
  private unsubscribe?: Promise<() => void>;

  constructor(private readonly link: RedisLink) {
    // Each time Redis is (again) reachable: write what waited, then have the watchers read the bans
    // (at start the first read may have come before the connection was up).
    link.onReady(() => void this.flush().then(() => this.notify()));
  }

  async all(): Promise<readonly StoredBan[]> {
    const out = new Map<string, StoredBan>();
    try {
      // The guard reads the bans as it is built, before the gateway connects the state: wait for the connection as start-up does.
      if (!(await this.link.whenReady())) throw new Error('Redis is unreachable');
      const stored = await this.link.cmd.hgetall(this.link.key('bans'));
      for (const [id, json] of Object.entries(stored)) {
        try {
          out.set(id, JSON.parse(json) as StoredBan);
        } catch {
          // a malformed entry is skipped, not fatal
        }
      }
    } catch (err) {
      this.link.failed('bans.all', err as Error);
    }
    for (const [id, b] of this.pending) {
      if (b) out.set(id, b);
      else out.delete(id);
    }
    return [...out.values()];
  }

  async put(ban: StoredBan): Promise<void> {
    this.pending.set(ban.id, ban);
    await this.flush();
  }

  async delete(id: string): Promise<void> {
    this.pending.set(id, null);
    await this.flush();
  }

  watch(onChange: () => void): () => void {
    this.watchers.add(onChange);
    this.unsubscribe ??= this.link.subscribe(this.link.key('bans'), () => this.notify());
    return () => this.watchers.delete(onChange);
  }

  private notify(): void {
    for (const w of this.watchers) w();
  }

  async close(): Promise<void> {
    this.watchers.clear();
    (await this.unsubscribe)?.();
  }

  /** Writes what is pending, then announces it; stops at the first failure (retried on reconnect). */
  private async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const key = this.link.key('bans');
    const batch = [...this.pending];
    const m = this.link.cmd.multi();
    for (const [id, b] of batch) {
      if (b) m.hset(key, id, JSON.stringify(b));
      else m.hdel(key, id);
    }
    m.publish(this.link.key('bans'), 'changed');
    try {
      await m.exec();
    } catch (err) {
      this.link.failed('bans.write', err as Error);
      return;
    }
    for (const [id, b] of batch) if (this.pending.get(id) === b) this.pending.delete(id);
  }
}

/**
 * Recently verified credentials, so that a reconnect storm does not spend a
 * core in scrypt (or a round trip to an auth service) per connection. Keyed
 * by a SHA-256 of the user and the secret: the secret itself is never held.
 * Bounded in entries (oldest evicted first) and in age.
 */
import { createHash } from 'node:crypto';
import { FifoMap } from '../util/fifo-map.js';

interface Entry<V> {
  readonly value: V;
  readonly expiresAt: number;
}

export class VerifiedCache<V> {
  private readonly entries = new FifoMap<string, Entry<V>>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cache key of `parts` (user, secret, ...): a digest, so no secret stays in memory here. */
  static key(...parts: ReadonlyArray<string | Buffer>): string {
    const h = createHash('sha256');
    for (const p of parts) {
      h.update(String(Buffer.byteLength(p)));
      h.update(':');
      h.update(p);
    }
    return h.digest('base64url');
  }

  get(key: string): V | undefined {
    if (this.ttlMs <= 0) return undefined;
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: V): void {
    if (this.ttlMs <= 0 || this.maxEntries <= 0) return;
    const now = this.now();
    this.entries.shiftWhile((e) => e.expiresAt <= now);
    while (this.entries.size >= this.maxEntries) this.entries.shift();
    this.entries.set(key, { value, expiresAt: now + this.ttlMs });
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

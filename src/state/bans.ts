/**
 * Ban storage: where dynamic bans (admin API, scoring, flapping) are kept so
 * a restart — and, with a shared store, every other node — sees them. The
 * guard keeps the bans in force in memory (it answers per connection,
 * synchronously) and writes through this store; `watch` tells it when
 * another process changed them, and it reads them all again.
 */

/** A ban as stored (the guard's Ban). */
export interface StoredBan {
  readonly id: string;
  readonly kind: 'ip' | 'cidr' | 'clientId' | 'principal' | 'certFingerprint' | 'ja4' | 'ja3';
  readonly value: string;
  readonly reason: string;
  readonly source: string;
  readonly createdAt: number;
  readonly expiresAt?: number;
}

export interface BanStore {
  /** Every stored ban; synchronous where the store can be (the file), so a restart refuses at once. */
  all(): readonly StoredBan[] | Promise<readonly StoredBan[]>;
  put(ban: StoredBan): void | Promise<void>;
  delete(id: string): void | Promise<void>;
  /** Calls `onChange` when another process changed the bans; returns the function that stops it. */
  watch(onChange: () => void): () => void;
  close(): Promise<void>;
}

/**
 * Message deduplication (RFC 7252 §4.5). A request's message id is
 * remembered per source for EXCHANGE_LIFETIME (CON) or NON_LIFETIME (NON);
 * a duplicate is answered from the remembered response and never dispatched
 * twice. Keys are numbers (source id × 65536 + message id), so the hot
 * path builds no strings. Entries are kept in insertion order, which is also expiry order, so
 * expiry is a walk from the oldest; the count is bounded (oldest first out).
 */
import { FifoMap } from '../../util/fifo-map.js';

export type ExchangeState =
  /** Handed to the pipeline; no answer yet. */
  | 'pending'
  /** An empty ACK was sent; the response follows as its own CON (RFC 7252 §5.2.2). */
  | 'separate'
  /** Answered; `response` holds the bytes to send again on a duplicate. */
  | 'done';

export interface Exchange {
  readonly expiresAt: number;
  state: ExchangeState;
  /** The piggybacked (or NON) response, resent verbatim to duplicates. Undefined with No-Response. */
  response?: Buffer;
}

export class ExchangeCache {
  private readonly entries = new FifoMap<number, Exchange>();
  private evictedCount = 0;

  constructor(
    private readonly lifetimeMs: number,
    private readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Exchanges forgotten before their lifetime because the cache was full. */
  get evicted(): number {
    return this.evictedCount;
  }

  get(key: number): Exchange | undefined {
    return this.entries.get(key);
  }

  /** Remembers a new exchange. */
  add(key: number, now: number): Exchange {
    this.sweep(now);
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) {
      this.entries.shift();
      this.evictedCount++;
    }
    const e: Exchange = { expiresAt: now + this.lifetimeMs, state: 'pending' };
    this.entries.set(key, e);
    return e;
  }

  /** Forgets expired exchanges (the oldest ones: every exchange lives equally long). */
  sweep(now: number): void {
    this.entries.shiftWhile((e) => e.expiresAt <= now);
  }

  clear(): void {
    this.entries.clear();
  }
}

/**
 * The CoAP per-source request rate (token buckets, answered 4.29 per
 * RFC 8516). A bucket belongs to a source *address*, not to an
 * address:port endpoint: a client picks its UDP source port freely, so a
 * limit keyed by port is bypassed by sending each request from a fresh
 * one. IPv6 sources are grouped by prefix (a /64 is what one host or
 * subscriber is usually given, RFC 4291 §2.5.4 / RFC 6177).
 */

import { sourceKey } from '../../util/address.js';

export { sourceKey };

/** One source's token bucket. */
interface Bucket {
  tokens: number;
  refilledAt: number;
  /** Last time a rate-limit event was reported for this source. */
  reportedAt: number;
  /** Requests refused since that report. */
  refused: number;
}

export interface SourceRateLimits {
  /** Requests per second per source; 0 disables the limit. */
  readonly ratePerSecond: number;
  readonly burst: number;
  /** Leading bits of an IPv6 address that name one source (1..128). */
  readonly ipv6PrefixBits: number;
  /** Sources remembered at most; a full bucket is forgotten first, as it equals a fresh one. */
  readonly maxSources: number;
}

export class SourceRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limits: SourceRateLimits) {}

  get enabled(): boolean {
    return this.limits.ratePerSecond > 0;
  }

  /** The key of a source address under this limiter's IPv6 prefix. */
  keyOf(address: string): string {
    return sourceKey(address, this.limits.ipv6PrefixBits);
  }

  /** Takes one request token for `key`; false when the source is over its rate. */
  take(key: string, now: number): boolean {
    if (!this.enabled) return true;
    const b = this.bucket(key, now);
    this.refill(b, now);
    if (b.tokens < 1) {
      b.refused++;
      return false;
    }
    b.tokens -= 1;
    return true;
  }

  /** Milliseconds until `key` has a token again (for Max-Age on 4.29). */
  retryAfterMs(key: string): number {
    const b = this.buckets.get(key);
    const rate = this.limits.ratePerSecond;
    return rate <= 0 || !b ? 0 : Math.ceil(((1 - b.tokens) * 1000) / rate);
  }

  /**
   * Whether to report this source's limiting as a security event: at its
   * first refusal after a second without a report, and again for every
   * `burst` requests refused since the last one. A client a little over its
   * rate is reported about once a second; a flood many times its burst a
   * second is reported in proportion, so violation scoring (a `flood` report
   * weighs 5) bans it within seconds rather than after twenty reports at one
   * a second. Reports stay bounded per source by this, and per listener by
   * its log budget.
   */
  shouldReport(key: string, now: number): boolean {
    const b = this.buckets.get(key);
    if (!b || (now - b.reportedAt < 1000 && b.refused < this.limits.burst)) return false;
    b.reportedAt = now;
    b.refused = 0;
    return true;
  }

  /** Forgets buckets that have refilled: they are indistinguishable from fresh ones. */
  sweep(now: number): void {
    for (const [k, b] of this.buckets) if (this.isFull(b, now)) this.buckets.delete(k);
  }

  clear(): void {
    this.buckets.clear();
  }

  get size(): number {
    return this.buckets.size;
  }

  private bucket(key: string, now: number): Bucket {
    let b = this.buckets.get(key);
    if (b) return b;
    if (this.buckets.size >= this.limits.maxSources) {
      this.sweep(now);
      // Still full of limited sources: forget the oldest, keeping memory bounded.
      if (this.buckets.size >= this.limits.maxSources) this.buckets.delete(this.buckets.keys().next().value!);
    }
    b = { tokens: this.limits.burst, refilledAt: now, reportedAt: -Infinity, refused: 0 };
    this.buckets.set(key, b);
    return b;
  }

  private refill(b: Bucket, now: number): void {
    const elapsed = now - b.refilledAt;
    if (elapsed <= 0) return;
    b.tokens = Math.min(this.limits.burst, b.tokens + (elapsed * this.limits.ratePerSecond) / 1000);
    b.refilledAt = now;
  }

  private isFull(b: Bucket, now: number): boolean {
    return b.tokens + ((now - b.refilledAt) * this.limits.ratePerSecond) / 1000 >= this.limits.burst;
  }
}

/**
 * Token buckets by key (a source address): `perSecond` tokens a second, at
 * most `burst` saved up. Used for the new-connection rate per address at
 * accept (guard.limits).
 */

interface Bucket {
  tokens: number;
  at: number;
}

/** Most keys tracked; the stalest are forgotten first (a forgotten key starts with a full bucket). */
const MAX_KEYS = 100_000;

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private perSecond: number,
    private burst: number,
    private readonly now: () => number,
  ) {}

  configure(perSecond: number, burst: number): void {
    this.perSecond = perSecond;
    this.burst = burst;
  }

  /** Takes one token for `key`; false when there is none (over the rate). `perSecond` 0 never limits. */
  take(key: string): boolean {
    if (this.perSecond <= 0) return true;
    const t = this.now();
    const b = this.buckets.get(key);
    const tokens = b ? Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.perSecond) : this.burst;
    this.buckets.delete(key);
    const ok = tokens >= 1;
    this.buckets.set(key, { tokens: ok ? tokens - 1 : tokens, at: t });
    while (this.buckets.size > MAX_KEYS) this.buckets.delete(this.buckets.keys().next().value as string);
    return ok;
  }
}

/**
 * The RateCounter contract: token buckets by key, the one thing the guard's
 * rate limits need from storage. A shared implementation (several gateway
 * nodes) replaces the embedded one through {@link RateCounterFactory}; the
 * guard never touches buckets directly.
 */

/** `perSecond` tokens a second, at most `burst` saved up; `perSecond` 0 never limits. */
export interface RateSpec {
  readonly perSecond: number;
  readonly burst: number;
}

export interface RateCounter {
  /**
   * Takes `cost` tokens for `key` when the bucket holds them (a cost above
   * the burst is taken from a full bucket, leaving a debt). Returns 0 when
   * taken, otherwise the milliseconds until it could be (nothing is taken).
   */
  take(key: string, cost: number): number;
  /**
   * Takes `cost` tokens whatever the balance, into debt if need be. Returns
   * the milliseconds until the balance is back above zero (0: not in debt).
   * For limits enforced by pausing the source, which never refuse.
   */
  charge(key: string, cost: number): number;
  /** Keys held (memory bound checks, metrics). */
  readonly size: number;
}

/** Builds one counter; `name` (e.g. `mqtt:messages:clientId`) keeps a shared store's counters apart. */
export type RateCounterFactory = (name: string, spec: RateSpec) => RateCounter;

/** Keys an embedded counter holds at most; beyond, the least recently used is forgotten (it restarts full). */
export const MAX_KEYS = 100_000;

interface Bucket {
  tokens: number;
  /** When the tokens were last refilled. */
  at: number;
  /** When the bucket was last moved to the most recently used end. */
  moved: number;
}

/** A bucket in use is moved to the most recently used end at most this often. */
const REORDER_MS = 1000;

/**
 * In-process token buckets. Memory stays bounded without timers: buckets
 * are kept in last-use order, each use forgets the least recently used ones
 * that have refilled (a full bucket is the same as none), and at most
 * `maxKeys` are kept.
 */
export class EmbeddedRateCounter implements RateCounter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly spec: RateSpec,
    private readonly now: () => number,
    private readonly maxKeys = MAX_KEYS,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  take(key: string, cost: number): number {
    if (this.spec.perSecond <= 0) return 0;
    const t = this.now();
    const b = this.use(key, t);
    const need = Math.min(cost, this.spec.burst);
    if (b.tokens < need) return Math.ceil(((need - b.tokens) * 1000) / this.spec.perSecond);
    b.tokens -= cost;
    return 0;
  }

  charge(key: string, cost: number): number {
    if (this.spec.perSecond <= 0) return 0;
    const b = this.use(key, this.now());
    b.tokens -= cost;
    return b.tokens >= 0 ? 0 : Math.ceil((-b.tokens * 1000) / this.spec.perSecond);
  }

  /**
   * The refilled bucket of `key`, moved to the most recently used end. The
   * order is kept to within {@link REORDER_MS}: a bucket in use is moved (and
   * old ones forgotten) at most that often, not on every message, since the
   * move costs more than the bucket arithmetic. A new key always evicts.
   */
  private use(key: string, t: number): Bucket {
    const { perSecond, burst } = this.spec;
    let b = this.buckets.get(key);
    if (b) {
      b.tokens = Math.min(burst, b.tokens + ((t - b.at) * perSecond) / 1000);
      b.at = t;
      if (t - b.moved < REORDER_MS) return b;
      this.buckets.delete(key);
      b.moved = t;
    } else {
      b = { tokens: burst, at: t, moved: t };
    }
    this.evict(t);
    this.buckets.set(key, b);
    return b;
  }

  /** Forgets up to two refilled buckets from the least recently used end, and any beyond `maxKeys`. */
  private evict(t: number): void {
    const { perSecond, burst } = this.spec;
    for (let i = 0; i < 2; i++) {
      const first = this.buckets.entries().next();
      if (first.done) break;
      const [k, b] = first.value;
      if (b.tokens + ((t - b.at) * perSecond) / 1000 < burst) break;
      this.buckets.delete(k);
    }
    while (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
  }
}

/** The default factory: in-process counters on the given clock. */
export function embeddedRateCounters(now: () => number = Date.now, maxKeys = MAX_KEYS): RateCounterFactory {
  return (_name, spec) => new EmbeddedRateCounter(spec, now, maxKeys);
}

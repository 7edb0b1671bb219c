/**
 * Token buckets shared by several gateway nodes through the state layer's
 * Counters (embedded or Redis). Each decision stays local and synchronous:
 * a node's own bucket answers `take` and `charge` at once, and what it took
 * is added to a shared per-window counter every `flushMs`. The counter's
 * total tells the node what the other nodes took in the same window, which
 * it charges to its own bucket, so every node's bucket drains at the
 * cluster's rate and the cluster as a whole passes about `perSecond`.
 *
 * Approximate by design (docs/guard.md, *Rate limits*; docs/scaling.md):
 * - other nodes' use is seen up to `flushMs` plus one round trip late, so
 *   within that lag each node may spend its own burst: up to N × burst
 *   passes at once across N nodes before the buckets agree;
 * - Counters windows are fixed and cut by each node's clock (counters.ts);
 * - while the store is unreachable each node limits alone (up to N × the rate).
 */
import type { Counters } from '../state/counters.js';
import { EmbeddedRateCounter, MAX_KEYS, type RateCounter, type RateCounterFactory, type RateSpec } from './rate-counter.js';

/** How often each node adds its use to the shared counters. */
export const FLUSH_MS = 250;
/** The shared counters' window: each flush adds to the current second's total. */
const WINDOW_MS = 1000;

interface KeyUse {
  /** Taken here since the last flush. */
  pending: number;
  /** The window of the last flush, and what this node had added to it. */
  window: number;
  ownInWindow: number;
  /** Other nodes' use in that window already charged here. */
  othersCharged: number;
}

export class SharedRateCounter implements RateCounter {
  private readonly local: EmbeddedRateCounter;
  private readonly use = new Map<string, KeyUse>();
  private flushing = false;

  constructor(
    private readonly name: string,
    spec: RateSpec,
    private readonly counters: Counters,
    private readonly now: () => number = Date.now,
  ) {
    this.local = new EmbeddedRateCounter(spec, now, MAX_KEYS);
  }

  get size(): number {
    return this.local.size;
  }

  take(key: string, cost: number): number {
    const wait = this.local.take(key, cost);
    if (wait === 0) this.note(key, cost);
    return wait;
  }

  charge(key: string, cost: number): number {
    this.note(key, cost);
    return this.local.charge(key, cost);
  }

  private note(key: string, cost: number): void {
    const u = this.use.get(key);
    if (u) u.pending += cost;
    else if (this.use.size < MAX_KEYS) this.use.set(key, { pending: cost, window: -1, ownInWindow: 0, othersCharged: 0 });
  }

  /** Adds each key's use to the shared counters and charges what the other nodes took (the timer's). */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      const window = Math.floor(this.now() / WINDOW_MS);
      const work: Promise<void>[] = [];
      for (const [key, u] of this.use) {
        if (u.pending === 0) {
          // Idle since the last flush: forget it once its window is over.
          if (u.window !== window) this.use.delete(key);
          continue;
        }
        if (u.window !== window) {
          u.window = window;
          u.ownInWindow = 0;
          u.othersCharged = 0;
        }
        const n = u.pending;
        u.pending = 0;
        u.ownInWindow += n;
        work.push(
          this.counters.add(`guard:${this.name}:${key}`, n, WINDOW_MS).then(
            (total) => {
              if (u.window !== window) return;
              const others = total - u.ownInWindow - u.othersCharged;
              if (others > 0) {
                u.othersCharged += others;
                this.local.charge(key, others);
              }
            },
            // The store unreachable: this node limits alone until it is back.
            () => undefined,
          ),
        );
      }
      await Promise.all(work);
    } finally {
      this.flushing = false;
    }
  }
}

/**
 * A factory of shared counters over `counters`, flushed every {@link FLUSH_MS};
 * `stop` ends the flushing.
 */
export function sharedRateCounters(counters: Counters, now: () => number = Date.now): { factory: RateCounterFactory; stop: () => void } {
  const all = new Set<SharedRateCounter>();
  const timer = setInterval(() => {
    for (const c of all) void c.flush();
  }, FLUSH_MS);
  timer.unref();
  return {
    factory: (name, spec) => {
      const c = new SharedRateCounter(name, spec, counters, now);
      all.add(c);
      return c;
    },
    stop: () => clearInterval(timer),
  };
}

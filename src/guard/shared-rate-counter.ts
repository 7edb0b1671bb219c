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
import { FLUSH_MS, SharedTally } from './shared-tally.js';

export { FLUSH_MS };
/** The shared counters' window: each flush adds to the current second's total. */
const WINDOW_MS = 1000;

export class SharedRateCounter implements RateCounter {
  private readonly local: EmbeddedRateCounter;
  private readonly tally: SharedTally;

  constructor(name: string, spec: RateSpec, counters: Counters, now: () => number = Date.now) {
    this.local = new EmbeddedRateCounter(spec, now, MAX_KEYS);
    // What the other nodes took is charged here as it is learnt.
    this.tally = new SharedTally(
      counters,
      name,
      () => WINDOW_MS,
      (key, _total, others) => {
        if (others > 0) this.local.charge(key, others);
      },
      now,
    );
  }

  get size(): number {
    return this.local.size;
  }

  take(key: string, cost: number): number {
    const wait = this.local.take(key, cost);
    if (wait === 0) this.tally.note(key, cost);
    return wait;
  }

  charge(key: string, cost: number): number {
    this.tally.note(key, cost);
    return this.local.charge(key, cost);
  }

  /** Adds each key's use to the shared counters and charges what the other nodes took (the timer's). */
  flush(): Promise<void> {
    return this.tally.flush();
  }
}

/**
 * A factory of shared counters over `counters`, flushed every {@link FLUSH_MS};
 * `stop` ends the flushing, `flushed` is how many counters it flushes.
 *
 * One counter is flushed per name: a counter built again under its name
 * (a reload changed the limit, or the listener) replaces the old one, which
 * is flushed a last time so its use still reaches the others, then dropped.
 */
export function sharedRateCounters(counters: Counters, now: () => number = Date.now): { factory: RateCounterFactory; stop: () => void; flushed: () => number } {
  const all = new Map<string, SharedRateCounter>();
  const timer = setInterval(() => {
    for (const c of all.values()) void c.flush();
  }, FLUSH_MS);
  timer.unref();
  return {
    factory: (name, spec) => {
      const c = new SharedRateCounter(name, spec, counters, now);
      const old = all.get(name);
      if (old) void old.flush();
      all.set(name, c);
      return c;
    },
    stop: () => clearInterval(timer),
    flushed: () => all.size,
  };
}

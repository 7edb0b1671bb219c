/** Window counters in one process: exact here, since there is nobody else to count. */
import type { Counters } from '../counters.js';
import { EmbeddedHub } from './presence.js';

/** Counters kept at most; the stale ones are swept when this many are held. */
const SWEEP_AT = 100_000;

export class EmbeddedCounters implements Counters {
  private readonly hub: EmbeddedHub;

  constructor(
    hub?: EmbeddedHub,
    private readonly now: () => number = Date.now,
  ) {
    this.hub = hub ?? new EmbeddedHub();
  }

  async add(key: string, n: number, windowMs: number): Promise<number> {
    return this.addNow(key, n, windowMs);
  }

  /** The synchronous form (a caller in this process need not wait). */
  addNow(key: string, n: number, windowMs: number): number {
    const window = Math.floor(this.now() / windowMs);
    const map = this.hub.counters;
    const entry = map.get(key);
    if (entry && entry.window === window) return (entry.count += n);
    if (map.size >= SWEEP_AT) for (const [k, e] of map) if (e.window !== window) map.delete(k);
    map.set(key, { window, count: n });
    return n;
  }
}

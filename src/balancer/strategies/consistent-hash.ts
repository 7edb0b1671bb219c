import { hash32 } from './hash.js';
import { eligible, type Strategy, type StrategyEndpoint } from './strategy.js';

/** Points per unit of weight on the ring. */
const VNODES = 100;

/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam,
 * "Consistent Hashing with Bounded Loads", 2018). Each endpoint owns points
 * on a ring hashed from its URL, so a key keeps its endpoint while that
 * endpoint is available, and when one leaves only the keys it owned move.
 * No endpoint takes more than `loadFactor` × its fair share of the requests
 * in flight: a hot key overflows to the next endpoint on the ring instead of
 * overloading its own.
 */
export class ConsistentHash implements Strategy {
  readonly name = 'consistent-hash';
  private ringFor: readonly StrategyEndpoint[] | undefined;
  private ringSize = -1;
  private points = new Uint32Array(0);
  private owners = new Uint16Array(0);

  constructor(private readonly loadFactor = 1.25) {}

  pick(endpoints: readonly StrategyEndpoint[], key: string, exclude?: ReadonlySet<number>): number {
    if (this.ringFor !== endpoints || this.ringSize !== endpoints.length) this.build(endpoints);
    const n = this.points.length;
    if (n === 0) return -1;
    let total = 0;
    let weights = 0;
    for (let i = 0; i < endpoints.length; i++) {
      if (!eligible(endpoints, i, exclude)) continue;
      total += endpoints[i]!.inflight;
      weights += endpoints[i]!.weight;
    }
    if (weights === 0) return -1;
    const start = this.search(hash32(key));
    let fallback = -1;
    for (let k = 0; k < n; k++) {
      const i = this.owners[(start + k) % n]!;
      if (!eligible(endpoints, i, exclude)) continue;
      const e = endpoints[i]!;
      const capacity = Math.ceil((this.loadFactor * (total + 1) * e.weight) / weights);
      if (e.inflight + 1 <= capacity) return i;
      if (fallback < 0) fallback = i;
    }
    return fallback;
  }

  /** Index of the first point at or after `h`, wrapping to 0. */
  private search(h: number): number {
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === this.points.length ? 0 : lo;
  }

  private build(endpoints: readonly StrategyEndpoint[]): void {
    const entries: Array<[number, number]> = [];
    endpoints.forEach((e, i) => {
      for (let v = 0; v < VNODES * e.weight; v++) entries.push([hash32(`${e.url}#${v}`), i]);
    });
    entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.points = Uint32Array.from(entries, (p) => p[0]);
    this.owners = Uint16Array.from(entries, (p) => p[1]);
    this.ringFor = endpoints;
    this.ringSize = endpoints.length;
  }
}

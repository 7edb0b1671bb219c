import { eligible, type Strategy, type StrategyEndpoint } from './strategy.js';

/**
 * The endpoint with the fewest requests in flight, divided by its weight.
 * Ties go round-robin so an idle pool still spreads its load.
 */
export class LeastOutstanding implements Strategy {
  readonly name = 'least-outstanding';
  private start = 0;

  pick(endpoints: readonly StrategyEndpoint[], _key: string, exclude?: ReadonlySet<number>): number {
    const n = endpoints.length;
    let best = -1;
    let bestLoad = Infinity;
    for (let k = 0; k < n; k++) {
      const i = (this.start + k) % n;
      if (!eligible(endpoints, i, exclude)) continue;
      const e = endpoints[i]!;
      const load = e.inflight / e.weight;
      if (load < bestLoad) {
        bestLoad = load;
        best = i;
      }
    }
    if (best >= 0) this.start = (best + 1) % n;
    return best;
  }
}

import { eligible, type Strategy, type StrategyEndpoint } from './strategy.js';

/** Each request to the next available endpoint in turn; weights are ignored. */
export class RoundRobin implements Strategy {
  readonly name = 'round-robin';
  private next = 0;

  pick(endpoints: readonly StrategyEndpoint[], _key: string, exclude?: ReadonlySet<number>): number {
    const n = endpoints.length;
    for (let i = 0; i < n; i++) {
      const idx = (this.next + i) % n;
      if (eligible(endpoints, idx, exclude)) {
        this.next = (idx + 1) % n;
        return idx;
      }
    }
    return -1;
  }
}

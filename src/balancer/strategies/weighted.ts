import { eligible, type Strategy, type StrategyEndpoint } from './strategy.js';

/**
 * Smooth weighted round-robin (as in nginx's upstream module): every pick
 * adds each candidate's weight to its running score, takes the highest score
 * and subtracts the candidates' total from it. Weights 5,1,1 give
 * a a b a c a a rather than a a a a a b c.
 */
export class Weighted implements Strategy {
  readonly name = 'weighted';
  private current: number[] = [];

  pick(endpoints: readonly StrategyEndpoint[], _key: string, exclude?: ReadonlySet<number>): number {
    const n = endpoints.length;
    if (this.current.length !== n) this.current = new Array<number>(n).fill(0);
    let best = -1;
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (!eligible(endpoints, i, exclude)) continue;
      const w = endpoints[i]!.weight;
      this.current[i]! += w;
      total += w;
      if (best < 0 || this.current[i]! > this.current[best]!) best = i;
    }
    if (best >= 0) this.current[best]! -= total;
    return best;
  }
}

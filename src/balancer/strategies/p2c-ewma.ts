import { eligible, type Strategy, type StrategyEndpoint } from './strategy.js';

/**
 * Power of two choices: draw two distinct available endpoints at random and
 * take the cheaper, cost being latency EWMA × (in-flight + 1) / weight. An
 * endpoint without a latency sample yet is assumed fast (1 ms), so it gets
 * tried, but its requests in flight still count against it.
 * (Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing".)
 */
export class P2cEwma implements Strategy {
  readonly name = 'p2c-ewma';
  private readonly candidates: number[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  pick(endpoints: readonly StrategyEndpoint[], _key: string, exclude?: ReadonlySet<number>): number {
    const c = this.candidates;
    c.length = 0;
    for (let i = 0; i < endpoints.length; i++) if (eligible(endpoints, i, exclude)) c.push(i);
    if (c.length === 0) return -1;
    if (c.length === 1) return c[0]!;
    const a = Math.floor(this.random() * c.length);
    let b = Math.floor(this.random() * (c.length - 1));
    if (b >= a) b++;
    const ia = c[a]!;
    const ib = c[b]!;
    return cost(endpoints[ib]!) < cost(endpoints[ia]!) ? ib : ia;
  }
}

/** Latency assumed before an endpoint's first answer: low, so it gets tried, but not zero, so requests do not pile onto it. */
const UNSAMPLED_MS = 1;

function cost(e: StrategyEndpoint): number {
  return ((e.ewmaMs || UNSAMPLED_MS) * (e.inflight + 1)) / e.weight;
}

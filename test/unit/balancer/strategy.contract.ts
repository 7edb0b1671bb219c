/**
 * The contract every balancing strategy passes (like hono's
 * common.case.test.ts): availability, exclusion, spread, weights, and —
 * for affinity strategies — stable keys when an endpoint leaves.
 */
import { expect, it } from 'vitest';
import type { Strategy } from '../../../src/balancer/strategies/strategy.js';

export interface FakeEndpoint {
  url: string;
  weight: number;
  inflight: number;
  available: boolean;
  ewmaMs: number;
}

export interface StrategyTraits {
  /** Shares follow weights. */
  readonly weights: boolean;
  /** One key keeps its endpoint (consistent hashing). */
  readonly sticky: boolean;
}

export function endpoints(n: number, weights: number[] = []): FakeEndpoint[] {
  return Array.from({ length: n }, (_, i) => ({ url: `http://10.0.0.${i + 1}:8080`, weight: weights[i] ?? 1, inflight: 0, available: true, ewmaMs: 1 }));
}

/** Picks `rounds` × `perRound` times; in-flight counts grow within a round (nothing completes) and reset between rounds. */
function simulate(strategy: Strategy, eps: FakeEndpoint[], rounds: number, perRound: number): number[] {
  const counts = eps.map(() => 0);
  let k = 0;
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < perRound; i++) {
      const idx = strategy.pick(eps, `key-${k++}`);
      expect(idx).toBeGreaterThanOrEqual(0);
      counts[idx]!++;
      eps[idx]!.inflight++;
    }
    for (const e of eps) e.inflight = 0;
  }
  return counts;
}

export function strategyContract(make: () => Strategy, traits: StrategyTraits): void {
  it('answers -1 when no endpoint is available', () => {
    const s = make();
    expect(s.pick([], 'k')).toBe(-1);
    const eps = endpoints(3);
    for (const e of eps) e.available = false;
    expect(s.pick(eps, 'k')).toBe(-1);
  });

  it('never picks an unavailable endpoint', () => {
    const s = make();
    const eps = endpoints(4);
    eps[1]!.available = false;
    eps[3]!.available = false;
    for (let i = 0; i < 500; i++) expect([0, 2]).toContain(s.pick(eps, `key-${i}`));
  });

  it('skips excluded endpoints and answers -1 when all are excluded', () => {
    const s = make();
    const eps = endpoints(3);
    for (let i = 0; i < 200; i++) expect(s.pick(eps, `key-${i}`, new Set([0, 2]))).toBe(1);
    expect(s.pick(eps, 'k', new Set([0, 1, 2]))).toBe(-1);
  });

  it('spreads requests over equal endpoints', () => {
    const counts = simulate(make(), endpoints(4), 100, 40);
    for (const c of counts) expect(c / 4000).toBeGreaterThan(0.15);
  });

  it(traits.weights ? 'follows weights' : 'spreads evenly whatever the weights', () => {
    const counts = simulate(make(), endpoints(2, [3, 1]), 100, 40);
    const ratio = counts[0]! / counts[1]!;
    if (traits.weights) {
      expect(ratio).toBeGreaterThan(2.2);
      expect(ratio).toBeLessThan(3.8);
    } else {
      expect(ratio).toBeGreaterThan(0.8);
      expect(ratio).toBeLessThan(1.25);
    }
  });

  it('takes an endpoint back when it is available again', () => {
    const s = make();
    const eps = endpoints(2);
    eps[0]!.available = false;
    for (let i = 0; i < 50; i++) expect(s.pick(eps, `key-${i}`)).toBe(1);
    eps[0]!.available = true;
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(s.pick(eps, `key-${i}`));
    expect(seen).toEqual(new Set([0, 1]));
  });

  if (traits.sticky) {
    it('keeps one key on one endpoint', () => {
      const s = make();
      const eps = endpoints(5);
      for (let k = 0; k < 50; k++) {
        const first = s.pick(eps, `device-${k}`);
        for (let i = 0; i < 20; i++) expect(s.pick(eps, `device-${k}`)).toBe(first);
      }
    });

    it('moves only the departed endpoint’s keys when one becomes unavailable', () => {
      const s = make();
      const eps = endpoints(5);
      const keys = Array.from({ length: 2000 }, (_, i) => `device-${i}`);
      const before = keys.map((k) => s.pick(eps, k));
      eps[2]!.available = false;
      const after = keys.map((k) => s.pick(eps, k));
      let moved = 0;
      keys.forEach((_, i) => {
        if (before[i] !== 2) expect(after[i]).toBe(before[i]);
        else {
          expect(after[i]).not.toBe(2);
          moved++;
        }
      });
      // The departed endpoint owned about a fifth of the keys.
      expect(moved / keys.length).toBeGreaterThan(0.1);
      expect(moved / keys.length).toBeLessThan(0.3);
    });

    it('moves only the departed endpoint’s keys when one leaves the list', () => {
      const s = make();
      const eps = endpoints(5);
      const keys = Array.from({ length: 2000 }, (_, i) => `device-${i}`);
      const before = keys.map((k) => eps[s.pick(eps, k)]!.url);
      const rest = eps.filter((_, i) => i !== 3);
      const after = keys.map((k) => rest[s.pick(rest, k)]!.url);
      keys.forEach((_, i) => {
        if (before[i] !== eps[3]!.url) expect(after[i]).toBe(before[i]);
      });
    });
  }
}

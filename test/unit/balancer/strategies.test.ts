import { describe, expect, it } from 'vitest';
import { BUILTIN_STRATEGIES } from '../../../src/balancer/strategies/index.js';
import { ConsistentHash } from '../../../src/balancer/strategies/consistent-hash.js';
import { P2cEwma } from '../../../src/balancer/strategies/p2c-ewma.js';
import { Weighted } from '../../../src/balancer/strategies/weighted.js';
import { endpoints, strategyContract, type StrategyTraits } from './strategy.contract.js';

const TRAITS: Record<string, StrategyTraits> = {
  'round-robin': { weights: false, sticky: false },
  weighted: { weights: true, sticky: false },
  'least-outstanding': { weights: true, sticky: false },
  'consistent-hash': { weights: true, sticky: true },
  'p2c-ewma': { weights: true, sticky: false },
};

// Every built-in registration runs the contract; a plugin's strategy runs it in test/unit/plugins/ (or its own folder).
for (const factory of BUILTIN_STRATEGIES) {
  describe(`strategy contract: ${factory.name}`, () => {
    it('is built under its registered name', () => expect(factory.create({}).name).toBe(factory.name));
    it('declares its traits for the contract', () => expect(TRAITS[factory.name]).toBeDefined());
    strategyContract(() => factory.create({}), TRAITS[factory.name] ?? { weights: false, sticky: false });
  });
}

describe('weighted', () => {
  it('interleaves smoothly (nginx order for weights 5,1,1)', () => {
    const s = new Weighted();
    const eps = endpoints(3, [5, 1, 1]);
    const order = Array.from({ length: 7 }, () => 'abc'[s.pick(eps, '')]).join('');
    expect(order).toBe('aabacaa');
  });
});

describe('consistent-hash bounded loads', () => {
  it('sends a hot key elsewhere once its endpoint carries more than the load factor allows', () => {
    const s = new ConsistentHash(1.25);
    const eps = endpoints(4);
    const home = s.pick(eps, 'hot');
    // 10 requests in flight in all, 8 of them at the key's home: over 1.25 × fair share.
    eps[home]!.inflight = 8;
    eps[(home + 1) % 4]!.inflight = 2;
    const other = s.pick(eps, 'hot');
    expect(other).not.toBe(home);
    eps[home]!.inflight = 0;
    eps[(home + 1) % 4]!.inflight = 0;
    expect(s.pick(eps, 'hot')).toBe(home);
  });

  it('never lets one endpoint exceed the bound while keys are hot', () => {
    const s = new ConsistentHash(1.25);
    const eps = endpoints(4);
    for (let i = 0; i < 400; i++) eps[s.pick(eps, 'one-device')]!.inflight++;
    const max = Math.max(...eps.map((e) => e.inflight));
    expect(max).toBeLessThanOrEqual(Math.ceil((1.25 * 400) / 4) + 1);
  });
});

describe('p2c-ewma', () => {
  it('avoids a slow endpoint', () => {
    const s = new P2cEwma();
    const eps = endpoints(3);
    eps[1]!.ewmaMs = 200;
    let slow = 0;
    for (let i = 0; i < 1000; i++) if (s.pick(eps, '') === 1) slow++;
    expect(slow).toBe(0);
  });

  it('still prefers an idle slow endpoint over a fast one that is swamped', () => {
    const s = new P2cEwma();
    const eps = endpoints(2);
    eps[0]!.ewmaMs = 1;
    eps[0]!.inflight = 500;
    eps[1]!.ewmaMs = 100;
    expect(s.pick(eps, '')).toBe(1);
  });
});

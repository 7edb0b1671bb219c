import { describe, expect, it } from 'vitest';
import { OutlierDetector, type OutlierTarget } from '../../../../src/balancer/health/outlier.js';
import type { OutlierDetectionConfig } from '../../../../src/config/types.js';
import { ManualClock } from '../helpers.js';

const CONFIG: OutlierDetectionConfig = { enabled: true, consecutiveFailures: 3, baseEjectionTimeMs: 1000, maxEjectionTimeMs: 2500, maxEjectionPercent: 50 };

function setup(n = 4, config: OutlierDetectionConfig = CONFIG) {
  const clock = new ManualClock();
  const targets: OutlierTarget[] = Array.from({ length: n }, () => ({ ejected: false, ejections: 0 }));
  const events: string[] = [];
  const d = new OutlierDetector(config, targets, clock, {
    onEject: (i, ms) => events.push(`eject ${i} ${ms}`),
    onReturn: (i) => events.push(`return ${i}`),
  });
  const fail = (i: number, times: number) => {
    for (let k = 0; k < times; k++) d.onFailure(i);
  };
  return { clock, targets, events, d, fail };
}

describe('outlier ejection', () => {
  it('ejects after consecutive failures and returns the endpoint by itself', async () => {
    const { clock, targets, events, fail } = setup();
    fail(0, 2);
    expect(targets[0]!.ejected).toBe(false);
    fail(0, 1);
    expect(targets[0]).toEqual({ ejected: true, ejections: 1 });
    await clock.advance(999);
    expect(targets[0]!.ejected).toBe(true);
    await clock.advance(1);
    expect(targets[0]!.ejected).toBe(false);
    expect(events).toEqual(['eject 0 1000', 'return 0']);
  });

  it('counts only consecutive failures: a success starts over', () => {
    const { targets, d, fail } = setup();
    fail(1, 2);
    d.onSuccess(1);
    fail(1, 2);
    expect(targets[1]!.ejected).toBe(false);
    fail(1, 1);
    expect(targets[1]!.ejected).toBe(true);
  });

  it('grows the ejection time with each ejection, capped by the maximum', async () => {
    const { clock, events, fail } = setup();
    fail(0, 3);
    await clock.advance(1000);
    fail(0, 3);
    await clock.advance(2000);
    fail(0, 3);
    await clock.advance(2500);
    expect(events).toEqual(['eject 0 1000', 'return 0', 'eject 0 2000', 'return 0', 'eject 0 2500', 'return 0']);
  });

  it('shrinks the multiplier while the endpoint stays in service', async () => {
    const { clock, events, fail } = setup();
    fail(0, 3);
    await clock.advance(1000);
    fail(0, 3);
    await clock.advance(2000);
    // Two base periods in service take the multiplier from 2 back to 0.
    await clock.advance(2000);
    fail(0, 3);
    expect(events.at(-1)).toBe('eject 0 1000');
  });

  it('ejects at most maxEjectionPercent of the pool, but always one', () => {
    const { targets, fail } = setup(4);
    fail(0, 3);
    fail(1, 3);
    fail(2, 3);
    expect(targets.map((t) => t.ejected)).toEqual([true, true, false, false]);
    const small = setup(2, { ...CONFIG, maxEjectionPercent: 10 });
    small.fail(0, 3);
    small.fail(1, 3);
    expect(small.targets.map((t) => t.ejected)).toEqual([true, false]);
  });

  it('does nothing when disabled', () => {
    const { targets, fail } = setup(2, { ...CONFIG, enabled: false });
    fail(0, 10);
    expect(targets[0]!.ejected).toBe(false);
  });

  it('cancels its timers on close', async () => {
    const { clock, d, fail } = setup();
    fail(0, 3);
    expect(clock.pending).toBe(1);
    d.close();
    expect(clock.pending).toBe(0);
  });
});

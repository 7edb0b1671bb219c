/**
 * Shared guard state over the embedded Counters (two "nodes" in one process
 * sharing one hub, as two processes share Redis): scores and flap counts
 * add up across nodes (shared-detectors.ts), and a shared rate counter
 * built again under its name replaces the old one in the flush set.
 */
import { describe, expect, it, vi } from 'vitest';
import { EmbeddedCounters } from '../../../src/state/embedded/counters.js';
import { EmbeddedHub } from '../../../src/state/embedded/presence.js';
import { FlapDetector, Scorer, type BanRequest } from '../../../src/guard/scoring.js';
import { shareDetectors } from '../../../src/guard/shared-detectors.js';
import { SharedTally } from '../../../src/guard/shared-tally.js';
import { sharedRateCounters } from '../../../src/guard/shared-rate-counter.js';
import type { Counters } from '../../../src/state/counters.js';
import type { GuardConfig } from '../../../src/config/types.js';

const scoring: GuardConfig['scoring'] = {
  enabled: true,
  weights: { bad: 40 },
  defaultWeight: 1,
  halfLifeSeconds: 60,
  threshold: 100,
  banSeconds: 10,
  maxBanSeconds: 100,
};
const flapping: GuardConfig['flapping'] = { enabled: true, maxConnects: 3, maxAddressConnects: 100, windowSeconds: 60, banSeconds: 10 };

function node(hub: EmbeddedHub, now: () => number) {
  const scorer = new Scorer(scoring, now);
  const flaps = new FlapDetector(flapping, now);
  const bans: Array<BanRequest & { source: string }> = [];
  const stop = shareDetectors(
    new EmbeddedCounters(hub, now),
    scorer,
    flaps,
    () => flapping,
    (r, source) => bans.push({ ...r, source }),
    now,
  );
  return { scorer, flaps, bans, stop };
}

describe('scores and flapping across nodes', () => {
  it('events on two nodes, each under the threshold, ban once their counts are exchanged', async () => {
    vi.useFakeTimers({ toFake: ['setInterval'] });
    try {
      const hub = new EmbeddedHub();
      const t = 1_000_000;
      const a = node(hub, () => t);
      const b = node(hub, () => t);
      expect(a.scorer.record('bad', { certFingerprint: 'AA:BB' })).toEqual([]);
      expect(b.scorer.record('bad', { certFingerprint: 'AA:BB' })).toEqual([]);
      await vi.advanceTimersByTimeAsync(300);
      // 40 + 40 in sum: still under 100.
      expect([...a.bans, ...b.bans]).toEqual([]);
      // b has learnt a's 40: its third event (120 in sum) bans at once, as a local score would.
      expect(b.scorer.record('bad', { certFingerprint: 'AA:BB' }).map((x) => [x.kind, x.value])).toEqual([['certFingerprint', 'AA:BB']]);
      // a learns b's 80 when it next has something of its own to add for the name (in the
      // gateway b's ban has reached it through the ban store by then).
      expect(a.scorer.record('bad', { certFingerprint: 'AA:BB' })).toEqual([]);
      await vi.advanceTimersByTimeAsync(300);
      expect(a.bans.map((x) => [x.kind, x.value, x.source])).toEqual([['certFingerprint', 'AA:BB', 'scoring']]);
      a.stop();
      b.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('connects of one client id on two nodes flap in sum', async () => {
    vi.useFakeTimers({ toFake: ['setInterval'] });
    try {
      const hub = new EmbeddedHub();
      const a = node(hub, () => 5_000_000);
      const b = node(hub, () => 5_000_000);
      for (let i = 0; i < 2; i++) {
        expect(a.flaps.connect('clientId', 'dev')).toBeUndefined();
        expect(b.flaps.connect('clientId', 'dev')).toBeUndefined();
      }
      await vi.advanceTimersByTimeAsync(300);
      expect([...a.bans, ...b.bans].map((x) => [x.kind, x.value, x.source])).toContainEqual(['clientId', 'dev', 'flapping']);
      a.stop();
      b.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it("a tally learns only the other nodes' part, once", async () => {
    const hub = new EmbeddedHub();
    const seen: number[] = [];
    const x = new SharedTally(
      new EmbeddedCounters(hub),
      's',
      () => 10_000,
      (_n, _t, others) => seen.push(others),
      () => 0,
    );
    const y = new SharedTally(
      new EmbeddedCounters(hub),
      's',
      () => 10_000,
      () => undefined,
      () => 0,
    );
    x.note('k', 5);
    await x.flush();
    y.note('k', 7);
    await y.flush();
    x.note('k', 1);
    await x.flush();
    x.note('k', 1);
    await x.flush();
    expect(seen).toEqual([0, 7, 0]);
  });
});

describe('sharedRateCounters', () => {
  it('a counter built again under its name replaces the old one, whose last use is still flushed', async () => {
    vi.useFakeTimers({ toFake: ['setInterval'] });
    try {
      const adds: string[] = [];
      const counters: Counters = { add: async (key, n) => (adds.push(`${key}+${n}`), n) };
      const shared = sharedRateCounters(counters, () => 0);
      const spec = { perSecond: 10, burst: 10 };
      const old = shared.factory('mqtt:messages:clientId', spec);
      old.take('dev', 3);
      for (let reload = 0; reload < 5; reload++) shared.factory('mqtt:messages:clientId', { ...spec });
      shared.factory('connections:address', spec);
      expect(shared.flushed()).toBe(2);
      await vi.advanceTimersByTimeAsync(0);
      expect(adds).toEqual(['guard:mqtt:messages:clientId:0:dev+3']);
      shared.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

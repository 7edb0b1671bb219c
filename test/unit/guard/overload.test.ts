import { describe, expect, it } from 'vitest';
import { OverloadMonitor, type OverloadConfig, type OverloadSample } from '../../../src/guard/overload.js';

const config: OverloadConfig = {
  enabled: true,
  intervalMs: 60_000,
  eventLoopDelayMs: { refuse: 100, throttle: 400 },
  heapUsedRatio: { refuse: 0.8, throttle: 0.9 },
  connections: { refuse: 0, throttle: 0 },
  messagesInFlight: { refuse: 0, throttle: 0 },
  recoverRatio: 0.5,
  retryAfterSeconds: 3,
  throttlePauseMs: 50,
};

describe('OverloadMonitor', () => {
  it('refuses above a refuse watermark, throttles above a throttle one, and recovers only well below (hysteresis)', () => {
    let s: OverloadSample = { loopDelayMs: 0, heapRatio: 0.1 };
    const changes: string[] = [];
    const m = new OverloadMonitor(
      config,
      (from, to) => changes.push(`${from}->${to}`),
      () => s,
    );
    try {
      m.check();
      expect(m.state).toBe('normal');
      s = { loopDelayMs: 150, heapRatio: 0.1 };
      // One sample over a watermark is not enough (a single pause); two in a row are.
      m.check();
      expect(m.state).toBe('normal');
      m.check();
      expect([m.state, m.throttlePauseMs]).toEqual(['refusing', 0]);
      s = { loopDelayMs: 10, heapRatio: 0.95 };
      m.check();
      m.check();
      expect([m.state, m.throttlePauseMs]).toEqual(['throttling', 50]);
      // Below the refuse watermark but above half of it: still refusing.
      s = { loopDelayMs: 60, heapRatio: 0.1 };
      m.check();
      expect(m.state).toBe('refusing');
      s = { loopDelayMs: 40, heapRatio: 0.3 };
      m.check();
      expect(m.state).toBe('normal');
      expect(changes).toEqual(['normal->refusing', 'refusing->throttling', 'throttling->refusing', 'refusing->normal']);
    } finally {
      m.stop();
    }
  });

  it('disabled: always normal', () => {
    const m = new OverloadMonitor(
      { ...config, enabled: false },
      () => undefined,
      () => ({ loopDelayMs: 1e6, heapRatio: 1 }),
    );
    m.check();
    expect(m.state).toBe('normal');
  });

  it('watermarks on connections and messages in flight; 0 turns one off', () => {
    let load = { connections: 0, inflight: 0 };
    const m = new OverloadMonitor(
      { ...config, connections: { refuse: 100, throttle: 0 }, messagesInFlight: { refuse: 50, throttle: 200 } },
      () => undefined,
      () => ({ loopDelayMs: 0, heapRatio: 0.1 }),
      () => load,
    );
    try {
      load = { connections: 10_000_000, inflight: 0 };
      m.check();
      m.check();
      // Connections have no throttle watermark: refusing, never throttling.
      expect(m.state).toBe('refusing');
      load = { connections: 60, inflight: 0 };
      m.check();
      expect(m.state).toBe('refusing');
      load = { connections: 40, inflight: 10 };
      m.check();
      expect(m.state).toBe('normal');
      load = { connections: 0, inflight: 200 };
      m.check();
      m.check();
      expect(m.state).toBe('throttling');
    } finally {
      m.stop();
    }
  });
});

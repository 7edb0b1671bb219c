/**
 * Test helpers for the balancer: pool configurations validated (and
 * defaulted) by the real schema, a manual clock, and requests.
 */
import { parseConfig } from '../../../src/config/load.js';
import type { PoolConfig } from '../../../src/config/types.js';
import type { Clock, TimerHandle } from '../../../src/balancer/clock.js';
import type { UpstreamRequest } from '../../../src/balancer/types.js';

/** A pool as the configuration loader would produce it, defaults filled in. */
export function poolConfig(raw: Record<string, unknown>): PoolConfig {
  const config = parseConfig({ listeners: [], routes: [], pools: [{ name: 'p', ...raw }] });
  return config.pools[0]!;
}

let seq = 0;
/** A request toward pool 'p'. */
export function request(overrides: Partial<UpstreamRequest> = {}): UpstreamRequest {
  const id = `msg-${++seq}`;
  return {
    pool: 'p',
    method: 'POST',
    path: '/telemetry',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ n: seq })),
    idempotencyKey: id,
    key: 'device-1',
    ...overrides,
  };
}

interface Timer extends TimerHandle {
  at: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that moves only when told to; due timers fire in time order. */
export class ManualClock implements Clock {
  private t = 1_700_000_000_000;
  private timers: Timer[] = [];

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { at: this.t + Math.max(0, ms), fn, cancelled: false };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as Timer).cancelled = true;
  }

  /** Timers not yet fired or cancelled. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing due timers (and letting their promise callbacks run) in order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = Math.max(this.t, due.at);
      due.cancelled = true;
      due.fn();
      await flush();
    }
    this.timers = this.timers.filter((t) => !t.cancelled);
    this.t = end;
    await flush();
  }
}

/** Lets queued promise callbacks run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

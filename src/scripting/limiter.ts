/**
 * Rate limits of the scripting stage: a token bucket for script log lines,
 * and a per-device failure throttle so one device whose messages keep making
 * a script fail is held back on its own while everyone else is served.
 */
import { FifoMap } from '../util/fifo-map.js';

/** Token bucket; time is injected so tests need not sleep. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export interface ThrottleLimits {
  /** Consecutive failed messages of one device before it is throttled. */
  readonly failures: number;
  /** How long a throttled device's messages are refused without running the script. */
  readonly cooldownMs: number;
  /** Bound on the devices tracked at once (oldest forgotten first). */
  readonly maxDevices: number;
}

interface DeviceFailures {
  count: number;
  blockedUntil: number;
}

export class DeviceThrottle {
  /** Oldest first, so the table's bound drops the device that started failing longest ago. */
  private readonly devices = new FifoMap<string, DeviceFailures>();

  constructor(
    private limits: ThrottleLimits,
    private readonly now: () => number,
  ) {}

  configure(limits: ThrottleLimits): void {
    this.limits = limits;
  }

  /** False while no device has failed: callers skip building keys. */
  get tracking(): boolean {
    return this.devices.size !== 0;
  }

  /** Milliseconds the device stays throttled, or 0 when it may run. */
  blocked(device: string): number {
    if (this.devices.size === 0) return 0;
    const f = this.devices.get(device);
    if (!f || f.blockedUntil === 0) return 0;
    const left = f.blockedUntil - this.now();
    if (left > 0) return left;
    // Cooldown over: one more failure throttles it again at once.
    f.blockedUntil = 0;
    f.count = this.limits.failures - 1;
    return 0;
  }

  /** Records a failed message; true when this failure starts a throttle period. */
  failed(device: string): boolean {
    let f = this.devices.get(device);
    if (!f) {
      if (this.devices.size >= this.limits.maxDevices) this.devices.shift();
      f = { count: 0, blockedUntil: 0 };
      this.devices.set(device, f);
    }
    f.count++;
    if (f.count >= this.limits.failures && f.blockedUntil === 0) {
      f.blockedUntil = this.now() + this.limits.cooldownMs;
      return true;
    }
    return false;
  }

  /** A message of the device succeeded: it starts afresh. */
  succeeded(device: string): void {
    if (this.devices.size !== 0) this.devices.delete(device);
  }
}

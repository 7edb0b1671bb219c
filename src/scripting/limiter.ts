/**
 * Rate limits of the scripting stage: a token bucket for script log lines; a
 * failure throttle per device and per remote address, so one device whose
 * messages keep making a script fail is held back on its own (and cannot
 * escape by changing its client id) while everyone else is served; and the
 * suspension of a script that keeps running out of time, so the scripts
 * sharing its thread are not held behind it.
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

/** Who sent a message, as the throttles know them. */
export interface Sender {
  readonly protocol: string;
  readonly clientId: string;
  readonly remoteAddress?: string;
}

export interface ClientThrottleLimits extends ThrottleLimits {
  /** Consecutive failed messages from one remote address, whatever their client ids, before it is throttled. */
  readonly addressFailures: number;
}

/**
 * The throttle by device (protocol and client id) and by remote address. An
 * address counts the failures of every client id it sends from, and a success
 * from it starts it afresh, so devices sharing a NAT address with a failing
 * one are held back only while nothing from that address succeeds.
 */
export class ClientThrottle {
  private readonly devices: DeviceThrottle;
  private readonly addresses: DeviceThrottle;

  constructor(limits: ClientThrottleLimits, now: () => number) {
    this.devices = new DeviceThrottle(limits, now);
    this.addresses = new DeviceThrottle(addressLimits(limits), now);
  }

  configure(limits: ClientThrottleLimits): void {
    this.devices.configure(limits);
    this.addresses.configure(addressLimits(limits));
  }

  /** False while nothing has failed: callers skip building senders. */
  get tracking(): boolean {
    return this.devices.tracking || this.addresses.tracking;
  }

  /** Milliseconds the sender stays throttled, and by which key; undefined when it may run. */
  blocked(s: Sender): { readonly ms: number; readonly by: 'client' | 'address' } | undefined {
    if (this.devices.tracking) {
      const ms = this.devices.blocked(deviceKey(s));
      if (ms > 0) return { ms, by: 'client' };
    }
    if (this.addresses.tracking && s.remoteAddress !== undefined) {
      const ms = this.addresses.blocked(s.remoteAddress);
      if (ms > 0) return { ms, by: 'address' };
    }
    return undefined;
  }

  /** Records a failed message; names what a throttle period starts for (or undefined). */
  failed(s: Sender): 'client' | 'address' | undefined {
    const device = this.devices.failed(deviceKey(s));
    const address = s.remoteAddress !== undefined && this.addresses.failed(s.remoteAddress);
    return device ? 'client' : address ? 'address' : undefined;
  }

  succeeded(s: Sender): void {
    if (this.devices.tracking) this.devices.succeeded(deviceKey(s));
    if (this.addresses.tracking && s.remoteAddress !== undefined) this.addresses.succeeded(s.remoteAddress);
  }
}

function deviceKey(s: Sender): string {
  return `${s.protocol}\u0000${s.clientId}`;
}

function addressLimits(l: ClientThrottleLimits): ThrottleLimits {
  return { failures: l.addressFailures, cooldownMs: l.cooldownMs, maxDevices: l.maxDevices };
}

export interface SuspendLimits {
  /** Messages in a row that run out of time before the script is suspended. */
  readonly timeouts: number;
  /** The first suspension; each one that follows a failed trial doubles it. */
  readonly initialMs: number;
  /** The longest suspension. */
  readonly maxMs: number;
}

/**
 * A script's suspension with exponential back-off. While suspended its
 * messages are refused at once; the first batch after it is a trial (one more
 * time-out suspends it again, for twice as long); a message that finishes in
 * time, or a new version of the script, ends the back-off.
 */
export class Suspension {
  private until = 0;
  private nextMs: number;
  private trialDue = false;

  constructor(
    private limits: SuspendLimits,
    private readonly now: () => number,
  ) {
    this.nextMs = limits.initialMs;
  }

  configure(limits: SuspendLimits): void {
    this.limits = limits;
    this.nextMs = Math.min(Math.max(this.nextMs, limits.initialMs), limits.maxMs);
  }

  /** Milliseconds the script stays suspended, or 0. */
  left(): number {
    if (this.until === 0) return 0;
    const left = this.until - this.now();
    if (left > 0) return left;
    this.until = 0;
    return 0;
  }

  /** True once for the first batch after a suspension ended. */
  takeTrial(): boolean {
    const t = this.trialDue;
    this.trialDue = false;
    return t;
  }

  /** Starts a suspension; returns its length. */
  suspend(): number {
    const ms = this.nextMs;
    this.until = this.now() + ms;
    this.nextMs = Math.min(ms * 2, this.limits.maxMs);
    this.trialDue = true;
    return ms;
  }

  /** A message finished in time, or a new version came: the back-off starts over. */
  reset(): void {
    this.until = 0;
    this.trialDue = false;
    this.nextMs = this.limits.initialMs;
  }
}

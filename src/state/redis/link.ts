/**
 * The connections to Redis that every Redis-backed contract shares: one for
 * commands and one subscribed to channels (a subscribed connection can send
 * nothing else). Both reconnect by themselves for as long as the process
 * lives. While Redis is unreachable, commands fail at once rather than queue
 * (`enableOfflineQueue: false`), so each contract falls back to its degraded
 * behaviour immediately (docs/scaling.md, "Redis outage") instead of holding
 * device connections hostage to a dead store.
 *
 * Scripts build some key names from values they read, so the keys a script
 * touches are not all declared: thinggate needs one Redis (with replicas or
 * Sentinel), not Redis Cluster.
 */
import { Redis } from 'ioredis';

export interface RedisLinkOptions {
  readonly url: string;
  readonly keyPrefix: string;
  /** A command that failed (the caller carries on degraded). */
  readonly onError?: (operation: string, err: Error) => void;
  /** Redis became reachable (true) or unreachable (false). */
  readonly onStatus?: (up: boolean) => void;
}

/** How long start-up waits for Redis before it carries on degraded. */
const START_WAIT_MS = 3000;

/** Resolves true once `r` is ready, false after `timeoutMs`. */
function readyWithin(r: Redis, timeoutMs: number): Promise<boolean> {
  if (r.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const ready = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      r.off('ready', ready);
      resolve(false);
    }, timeoutMs);
    r.once('ready', ready);
  });
}

/** Reconnect delays: quick at first, then every 2 s at most. */
function retry(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 6), 2000);
}

export class RedisLink {
  readonly cmd: Redis;
  readonly sub: Redis;
  readonly prefix: string;
  private readonly channels = new Map<string, Set<(message: string) => void>>();
  private up = false;
  private closed = false;

  constructor(private readonly options: RedisLinkOptions) {
    this.prefix = options.keyPrefix;
    const common = { retryStrategy: retry, connectTimeout: 2000, lazyConnect: true };
    this.cmd = new Redis(options.url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 2000 });
    // The subscriber queues SUBSCRIBE until connected and subscribes again after each reconnect.
    this.sub = new Redis(options.url, { ...common, autoResubscribe: true, maxRetriesPerRequest: null });
    // ioredis reports connection errors as events; without listeners they would be unhandled.
    this.cmd.on('error', () => {});
    this.sub.on('error', () => {});
    this.cmd.on('ready', () => this.status(true));
    this.cmd.on('close', () => this.status(false));
    this.sub.on('message', (channel: string, message: string) => {
      for (const fn of this.channels.get(channel) ?? []) fn(message);
    });
  }

  /** Connects both; resolves true when Redis answered within `timeoutMs`, false when it did not (they keep trying). */
  async connect(timeoutMs = START_WAIT_MS): Promise<boolean> {
    const ready = (r: Redis): Promise<boolean> => {
      const answered = readyWithin(r, timeoutMs);
      if (r.status !== 'ready') r.connect().catch(() => {});
      return answered;
    };
    const [a, b] = await Promise.all([ready(this.cmd), ready(this.sub)]);
    return a && b;
  }

  get connected(): boolean {
    return this.up;
  }

  /** Resolves true once commands can be sent, false after `timeoutMs` (it does not start connecting: {@link connect} does). */
  whenReady(timeoutMs = START_WAIT_MS): Promise<boolean> {
    return readyWithin(this.cmd, timeoutMs);
  }

  key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  /** Calls `fn` with each message on `channel`; resolves once subscribed (or queued, while Redis is away). */
  async subscribe(channel: string, fn: (message: string) => void): Promise<() => void> {
    let set = this.channels.get(channel);
    if (!set) {
      this.channels.set(channel, (set = new Set()));
      const subscribed = this.sub.subscribe(channel).catch((err: Error) => this.failed('subscribe', err));
      // While Redis is away the SUBSCRIBE waits in the queue; do not hold start-up for it.
      if (this.sub.status === 'ready') await subscribed;
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0 && !this.closed) {
        this.channels.delete(channel);
        void this.sub.unsubscribe(channel).catch((err: Error) => this.failed('link.unsubscribe', err));
      }
    };
  }

  /** Reports a failed command; callers then take their degraded path. */
  failed(operation: string, err: Error): undefined {
    this.options.onError?.(operation, err);
    return undefined;
  }

  /** Calls `fn` each time Redis becomes reachable again (replaying what waited). */
  onReady(fn: () => void): void {
    this.cmd.on('ready', fn);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cmd.disconnect();
    this.sub.disconnect();
  }

  private status(up: boolean): void {
    if (up === this.up || this.closed) return;
    this.up = up;
    this.options.onStatus?.(up);
  }
}

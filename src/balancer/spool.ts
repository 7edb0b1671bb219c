/**
 * Durable spool of one pool: a message is acknowledged (`spooled`) once it is
 * on local disk, then delivered through the pool with its retries, again and
 * again until the back-end takes it — across gateway restarts. The spool is
 * bounded: when `maxMessages` are waiting, a new message is `unavailable`
 * (TG_ERR_SPOOL_FULL) and the device keeps it.
 *
 * An entry leaves the spool when the back-end answers below 500 (a 4xx is a
 * final verdict: it is logged and counted, not retried forever) or when its
 * message expiry has passed. Delivery is at least once: a crash between the
 * back-end's answer and the delete sends the message again with the same
 * Idempotency-Key.
 */
import type { Logger } from 'pino';
import type { SpoolConfig } from '../config/types.js';
import type { Clock, TimerHandle } from './clock.js';
import type { PoolMetrics } from './metrics.js';
import { SpoolStore, type StoredRequest } from './spool-store.js';
import type { UpstreamRequest, UpstreamResult } from './types.js';

export interface SpoolParts {
  readonly config: SpoolConfig;
  /** Absolute directory of the database. */
  readonly directory: string;
  readonly pool: string;
  /** Sends one request through the pool (circuit breaking, retries), bypassing the spool. */
  readonly deliver: (request: UpstreamRequest) => Promise<UpstreamResult>;
  readonly logger: Logger;
  readonly metrics: PoolMetrics;
  readonly clock: Clock;
}

export class Spool {
  private readonly store: SpoolStore;
  private running = false;
  private dirty = false;
  private stopped = false;
  private wait: { timer: TimerHandle; resolve: () => void } | undefined;
  private reserved = 0;
  private closing = false;

  constructor(private readonly p: SpoolParts) {
    this.store = SpoolStore.attach(p.directory, this);
    void this.store.ready.then(() => {
      if (this.store.openError) p.logger.error({ err: this.store.openError, directory: p.directory }, 'cannot open the spool; spooled delivery is unavailable');
      else {
        if (this.store.count > 0) p.logger.info({ spooled: this.store.count }, 'spool opened with messages waiting; delivering them');
        p.metrics.spool(this.store.count);
        this.kick();
      }
    });
  }

  /** Messages on disk waiting for delivery. */
  get size(): number {
    return this.store.count;
  }

  async put(request: UpstreamRequest): Promise<UpstreamResult> {
    await this.store.ready;
    if (this.store.openError)
      return {
        kind: 'unavailable',
        code: 'TG_ERR_SPOOL_FAILED',
        reason: `spool of pool '${this.p.pool}' is not open: ${this.store.openError.message}`,
        retryAfterMs: 5000,
      };
    if (this.store.count + this.reserved >= this.p.config.maxMessages) {
      this.p.metrics.rejectedWith('TG_ERR_SPOOL_FULL');
      return {
        kind: 'unavailable',
        code: 'TG_ERR_SPOOL_FULL',
        reason: `spool of pool '${this.p.pool}' holds ${this.store.count} messages (the maximum)`,
        retryAfterMs: 5000,
      };
    }
    this.reserved++;
    try {
      await this.store.append({
        pool: this.p.pool,
        method: request.method,
        path: request.path,
        headers: { ...request.headers },
        body: request.body.toString('base64'),
        idempotencyKey: request.idempotencyKey,
        key: request.key,
        ...(request.expiresAt !== undefined && { expiresAt: request.expiresAt }),
        spooledAt: this.p.clock.now(),
      });
    } catch (err) {
      this.p.logger.error({ err }, 'spool write failed');
      return { kind: 'unavailable', code: 'TG_ERR_SPOOL_FAILED', reason: `spool write failed: ${(err as Error).message}`, retryAfterMs: 5000 };
    } finally {
      this.reserved--;
    }
    this.p.metrics.spool(this.store.count);
    this.kick();
    return { kind: 'spooled' };
  }

  /** Stops starting deliveries (the ones under way finish). */
  stopDelivery(): void {
    this.stopped = true;
    if (this.wait) {
      this.p.clock.clearTimeout(this.wait.timer);
      this.wait.resolve();
    }
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stopDelivery();
    while (this.running) await new Promise((r) => setImmediate(r));
    await this.store.detach(this);
  }

  private kick(): void {
    this.dirty = true;
    if (this.running || this.stopped) return;
    this.running = true;
    void this.loop()
      .catch((err: unknown) => this.p.logger.error({ err }, 'spool delivery failed'))
      .finally(() => {
        this.running = false;
      });
  }

  private async loop(): Promise<void> {
    let delivered = 0;
    while (!this.stopped && this.store.owner === this && !this.store.openError) {
      this.dirty = false;
      const batch = await this.store.oldest(this.p.config.concurrency);
      if (batch.length === 0) {
        if (this.dirty) continue;
        if (delivered > 0) this.p.logger.info({ handled: delivered }, 'spool drained');
        return;
      }
      delivered += batch.length;
      const results = await Promise.all(batch.map(([k, v]) => this.deliverOne(k, v)));
      this.p.metrics.spool(this.store.count);
      if (results.includes(false) && !this.stopped) await this.pause(this.p.config.retryIntervalMs);
    }
  }

  /** True when the entry has left the spool. */
  private async deliverOne(k: string, s: StoredRequest): Promise<boolean> {
    this.store.delivering.add(k);
    try {
      if (s.expiresAt !== undefined && s.expiresAt <= this.p.clock.now()) {
        this.p.logger.warn({ idempotencyKey: s.idempotencyKey }, 'spooled message expired before delivery; dropped');
        await this.store.remove(k);
        return true;
      }
      const r = await this.p.deliver({
        pool: s.pool,
        method: s.method,
        path: s.path,
        headers: s.headers,
        body: Buffer.from(s.body, 'base64'),
        idempotencyKey: s.idempotencyKey,
        key: s.key,
        spool: false,
        ...(s.expiresAt !== undefined && { expiresAt: s.expiresAt }),
      });
      if (r.kind === 'response' && r.status < 500) {
        await this.store.remove(k);
        if (r.status >= 400)
          this.p.logger.warn({ idempotencyKey: s.idempotencyKey, status: r.status, endpoint: r.endpoint }, 'back-end refused a spooled message; dropped');
        return true;
      }
      return false;
    } finally {
      this.store.delivering.delete(k);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = this.p.clock.setTimeout(() => {
        this.wait = undefined;
        resolve();
      }, ms);
      timer.unref?.();
      this.wait = { timer, resolve };
    });
  }
}

/**
 * A pool of endpoints: strategy, health, outlier ejection, panic mode,
 * circuit breaking, ordered delivery, batching and the durable spool around
 * the attempt loop. Beyond its in-flight limit (`maxInflight`, and no more
 * than twice what its endpoints' connections carry) requests wait in a queue shared
 * fairly between sources (fair-queue.ts); beyond `maxPending` waiting, a
 * message is `unavailable` at once (TG_ERR_POOL_OVERLOADED): back-pressure
 * goes to the devices, never into unbounded memory. A request whose device
 * connection closed before it left is dropped unsent (TG_ERR_CONNECTION_CLOSED).
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { PoolConfig } from '../config/types.js';
import { Batcher } from './batcher.js';
import type { Clock } from './clock.js';
import { Endpoint } from './endpoint.js';
import { FairQueue } from './fair-queue.js';
import { httpCall } from './http-call.js';
import { ActiveHealthChecker, statusExpected } from './health/active-check.js';
import { OutlierDetector } from './health/outlier.js';
import { PoolMetrics } from './metrics.js';
import { KeyedSerializer } from './ordered.js';
import { expired, Requester } from './requester.js';
import { RetryPolicy } from './retry.js';
import { Spool } from './spool.js';
import { builtinStrategy } from './strategies/index.js';
import type { StrategyLookup } from './strategies/strategy.js';
import type { Strategy } from './strategies/strategy.js';
import { loadUpstreamTls } from './tls.js';
import type { PoolStats, RequestSource, UpstreamRequest, UpstreamResult } from './types.js';
import type { Metrics } from '../observability/metrics.js';
import { IdleWaiters } from '../util/idle-waiters.js';

export interface PoolOptions {
  /** Folder that relative TLS and spool paths resolve against. */
  readonly baseDir: string;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  readonly clock: Clock;
  /** JSON path of this pool in the configuration (`/pools/N`), for error messages. */
  readonly at: string;
  /** Where strategies come from (the strategy registry); default the built-ins. */
  readonly strategies?: StrategyLookup;
}

/** Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus Host and Content-Length, which undici sets for our connection and body. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'content-length',
  'host',
]);

/** The turn of requests that name no source (spooled deliveries, internal callers). */
const NO_SOURCE: RequestSource = Object.freeze({ remoteAddress: '', clientId: '' });

interface Waiter {
  readonly request: UpstreamRequest;
  readonly resolve: (result: UpstreamResult) => void;
}

export class BackendPool {
  readonly name: string;
  readonly endpoints: Endpoint[];
  readonly strategy: Strategy;
  private readonly log: Logger;
  private readonly metrics: PoolMetrics;
  private readonly retry: RetryPolicy;
  private readonly outlier: OutlierDetector;
  private readonly health?: ActiveHealthChecker;
  private readonly requester: Requester;
  private readonly ordered?: KeyedSerializer;
  private readonly batcher?: Batcher;
  private readonly spool?: Spool;
  private inflight = 0;
  private requests = 0;
  private rejectedOverload = 0;
  private cancelled = 0;
  /**
   * Requests in flight at most: `maxInflight`, and no more than twice what
   * the endpoints' connections take at once (× the batch size when
   * batching): one round on the wire and one waiting in the endpoints, so a
   * connection that answers is handed its next request in the same turn
   * (exactly the wire's capacity cost twice the system calls per message,
   * bench/RESULTS.md "fairness"). Beyond that a request would only wait
   * inside an endpoint, first come first served; it waits in the fair
   * queue instead.
   */
  private readonly limit: number;
  private panic = false;
  private closed = false;
  private readonly pending = new FairQueue<Waiter>();
  private readonly drained = new IdleWaiters(() => this.isIdle());

  constructor(
    private readonly config: PoolConfig,
    options: PoolOptions,
  ) {
    this.name = config.name;
    this.log = options.logger.child({ pool: config.name });
    const tls = config.endpoints.some((e) => e.url.startsWith('https:')) ? loadUpstreamTls(config.tls, options.baseDir, options.at) : undefined;
    this.endpoints = config.endpoints.map((e) => new Endpoint(e, { connections: config.connections, pipelining: config.pipelining, ...(tls && { tls }) }));
    const carried = config.endpoints.length * config.connections * config.pipelining * (config.batch?.maxMessages ?? 1);
    this.limit = Math.min(config.maxInflight, 2 * carried);
    this.metrics = new PoolMetrics(
      options.metrics,
      config.name,
      this.endpoints.map((e) => e.url),
    );
    this.strategy = (options.strategies ?? builtinStrategy)(config.strategy, { hashLoadFactor: config.hashLoadFactor });
    this.retry = new RetryPolicy(config.retries);
    this.outlier = new OutlierDetector(config.outlierDetection, this.endpoints, options.clock, {
      onEject: (i, ms) => {
        this.metrics.ejection(i);
        this.log.warn(
          { endpoint: this.endpoints[i]!.url, ejectedForMs: ms, ejections: this.endpoints[i]!.ejections },
          'endpoint ejected after consecutive failures',
        );
        this.recompute();
      },
      onReturn: (i) => {
        this.log.info({ endpoint: this.endpoints[i]!.url }, 'ejected endpoint returned to service');
        this.recompute();
      },
    });
    this.requester = new Requester({
      config,
      endpoints: this.endpoints,
      strategy: this.strategy,
      retry: this.retry,
      outlier: this.outlier,
      metrics: this.metrics,
      clock: options.clock,
    });
    if (config.healthCheck) {
      const hc = config.healthCheck;
      this.health = new ActiveHealthChecker(hc, this.endpoints, (i) => this.probe(i), options.clock, {
        onChange: (i, healthy, reason) => {
          const url = this.endpoints[i]!.url;
          if (healthy) this.log.info({ endpoint: url, reason }, 'endpoint healthy');
          else this.log.warn({ endpoint: url, reason }, 'endpoint unhealthy');
          this.recompute();
        },
      });
      this.health.start();
    }
    if (config.orderedDelivery) this.ordered = new KeyedSerializer();
    if (config.batch) this.batcher = new Batcher(config.name, config.batch, (r) => this.requester.send(r, this.headersOf(r)));
    if (config.spool) {
      this.spool = new Spool({
        config: config.spool,
        directory: resolve(options.baseDir, config.spool.directory),
        pool: config.name,
        deliver: (r) => this.admit(r),
        logger: this.log,
        metrics: this.metrics,
        clock: options.clock,
      });
    }
  }

  dispatch(request: UpstreamRequest): Promise<UpstreamResult> {
    this.requests++;
    if (this.closed) return Promise.resolve({ kind: 'unavailable', code: 'TG_ERR_POOL_CLOSED', reason: `pool '${this.name}' is closed` });
    if (this.spool && request.spool !== false) return this.spool.put(request);
    return this.admit(request);
  }

  /** Circuit breaking and ordered delivery in front of the attempt loop. */
  private admit(request: UpstreamRequest): Promise<UpstreamResult> {
    if (!this.ordered) return this.gate(request);
    const mustWait = this.ordered.busy(request.key) || this.inflight >= this.limit;
    if (mustWait && this.ordered.waiting + this.waitingCount() >= this.config.maxPending) return Promise.resolve(this.overloaded());
    return this.ordered.run(request.key, () => this.gate(request));
  }

  private gate(request: UpstreamRequest): Promise<UpstreamResult> {
    if (request.signal?.aborted === true) return Promise.resolve(this.cancel());
    if (this.inflight < this.limit) return this.run(request);
    const source = request.source ?? NO_SOURCE;
    if (this.waitingCount() + (this.ordered?.waiting ?? 0) >= this.config.maxPending) {
      // Full: the longest queue gives up its newest request, unless it is the newcomer's own.
      const evicted = this.pending.size > 0 ? this.pending.evictFor(source) : undefined;
      if (evicted === undefined) return Promise.resolve(this.overloaded());
      evicted.resolve(evicted.request.signal?.aborted === true ? this.cancel() : this.overloaded());
    }
    return new Promise((resolve) => this.pending.push(source, { request, resolve }));
  }

  /** The result for a request dropped unsent because its device connection closed. */
  private cancel(): UpstreamResult {
    this.cancelled++;
    this.metrics.rejectedWith('TG_ERR_CONNECTION_CLOSED');
    return { kind: 'unavailable', code: 'TG_ERR_CONNECTION_CLOSED', reason: 'the device connection closed before the message was sent' };
  }

  private overloaded(): UpstreamResult {
    this.rejectedOverload++;
    this.metrics.rejectedWith('TG_ERR_POOL_OVERLOADED');
    return {
      kind: 'unavailable',
      code: 'TG_ERR_POOL_OVERLOADED',
      reason: `pool '${this.name}' has ${this.inflight} requests in flight and ${this.waitingCount()} waiting`,
      retryAfterMs: 1000,
    };
  }

  private waitingCount(): number {
    return this.pending.size;
  }

  private async run(request: UpstreamRequest): Promise<UpstreamResult> {
    this.inflight++;
    try {
      if (request.expiresAt !== undefined && request.expiresAt <= Date.now()) return expired();
      if (this.batcher) return await this.batcher.add(request);
      return await this.requester.send(request, this.headersOf(request));
    } catch (err) {
      // An internal fault must still give the device a definite answer.
      this.log.error({ err }, 'dispatch failed');
      return { kind: 'unavailable', code: 'TG_ERR_UPSTREAM_UNAVAILABLE', reason: `dispatch failed: ${(err as Error).message}`, retryAfterMs: 1000 };
    } finally {
      this.inflight--;
      this.next();
    }
  }

  /** The request's headers without connection-level ones, plus the Idempotency-Key. */
  private headersOf(request: UpstreamRequest): Record<string, string> {
    const out: Record<string, string> = {};
    const h = request.headers;
    for (const k in h) if (!HOP_BY_HOP.has(k)) out[k] = h[k]!;
    out['idempotency-key'] = request.idempotencyKey;
    return out;
  }

  /** Gives a freed place to the next waiting request in turn, dropping those whose connection closed meanwhile. */
  private next(): void {
    while (this.inflight < this.limit) {
      const w = this.pending.shift();
      if (w === undefined) break;
      if (w.request.signal?.aborted === true) {
        w.resolve(this.cancel());
        continue;
      }
      void this.run(w.request).then(w.resolve);
      return;
    }
    this.drained.check();
  }

  private isIdle(): boolean {
    return this.inflight === 0 && this.pending.size === 0 && (this.ordered?.waiting ?? 0) === 0;
  }

  /** Decides which endpoints may be picked: healthy and not ejected, or all of them in panic mode. */
  private recompute(): void {
    let routable = 0;
    for (const e of this.endpoints) if (e.routable) routable++;
    const threshold = this.config.panicThreshold;
    const panic = threshold > 0 && routable * 100 < threshold * this.endpoints.length;
    this.endpoints.forEach((e, i) => {
      const available = !e.drained && (panic || e.routable);
      if (available !== e.available) this.metrics.available(i, available);
      e.available = available;
    });
    if (panic !== this.panic) {
      this.panic = panic;
      this.metrics.panicMode(panic);
      if (panic)
        this.log.warn(
          { routable, endpoints: this.endpoints.length, panicThreshold: threshold },
          'panic mode: too few healthy endpoints, balancing over all of them',
        );
      else this.log.info({ routable, endpoints: this.endpoints.length }, 'panic mode over');
    }
  }

  private async probe(i: number): Promise<boolean> {
    const hc = this.config.healthCheck!;
    try {
      const ep = this.endpoints[i]!;
      const res = await httpCall(ep.client, {
        method: hc.method,
        path: ep.basePath + hc.path,
        headers: { 'user-agent': 'thinggate-health-check' },
        timeoutMs: hc.timeoutMs,
      });
      return statusExpected(res.status, hc.expectedStatuses);
    } catch {
      return false;
    }
  }

  /** An operator's drain: the endpoint takes no new messages; its in-flight ones finish. Undefined for an unknown URL. */
  setDrained(url: string, drained: boolean): boolean | undefined {
    const e = this.endpoints.find((x) => x.url === url.replace(/\/+$/, ''));
    if (!e) return undefined;
    if (e.drained !== drained) {
      e.drained = drained;
      this.log.info({ endpoint: e.url, inflight: e.inflight }, drained ? 'endpoint drained by an operator' : 'endpoint undrained by an operator');
      this.recompute();
    }
    return true;
  }

  /** Stops health checks and spool delivery and sends waiting batches, ahead of draining. */
  quiesce(): void {
    this.health?.close();
    this.spool?.stopDelivery();
    this.batcher?.flush();
  }

  /** Resolves once nothing is in flight or pending. */
  idle(): Promise<void> {
    return this.drained.wait();
  }

  stats(): PoolStats {
    return {
      name: this.name,
      strategy: this.strategy.name,
      inflight: this.inflight,
      pending: this.waitingCount() + (this.ordered?.waiting ?? 0),
      requests: this.requests,
      rejectedOverload: this.rejectedOverload,
      cancelled: this.cancelled,
      retries: this.requester.retries,
      retryBudgetExhausted: this.requester.budgetExhausted,
      panic: this.panic,
      ...(this.spool && { spooled: this.spool.size }),
      endpoints: this.endpoints.map((e) => e.stats()),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.quiesce();
    this.outlier.close();
    // Whatever still waits after the drain gets a definite answer.
    for (const w of this.pending.drain()) w.resolve({ kind: 'unavailable', code: 'TG_ERR_POOL_CLOSED', reason: `pool '${this.name}' is closed` });
    await this.spool?.close();
    await Promise.all(this.endpoints.map((e) => e.close().catch(() => e.destroy())));
  }
}

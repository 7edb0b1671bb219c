/**
 * A pool of endpoints with a strategy, a bound on requests in flight and a
 * bounded pending queue. Beyond both bounds a message is `unavailable` at
 * once: back-pressure goes to the devices, never into unbounded memory.
 */
import { errors as undiciErrors } from 'undici';
import type { PoolConfig } from '../config/types.js';
import { Endpoint } from './endpoint.js';
import type { Strategy } from './strategies/strategy.js';
import { RoundRobin } from './strategies/round-robin.js';
import type { PoolStats, UpstreamRequest, UpstreamResult } from './types.js';

interface Waiter {
  readonly request: UpstreamRequest;
  readonly resolve: (result: UpstreamResult) => void;
}

export class BackendPool {
  readonly name: string;
  readonly endpoints: Endpoint[];
  private readonly strategy: Strategy;
  private inflight = 0;
  private requests = 0;
  private rejectedOverload = 0;
  private readonly pending: Waiter[] = [];
  private pendingHead = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly config: PoolConfig) {
    this.name = config.name;
    this.endpoints = config.endpoints.map((e) => new Endpoint(e, config.connections));
    this.strategy = new RoundRobin();
  }

  dispatch(request: UpstreamRequest): Promise<UpstreamResult> {
    this.requests++;
    if (this.inflight < this.config.maxInflight) return this.run(request);
    if (this.pending.length - this.pendingHead >= this.config.maxPending) {
      this.rejectedOverload++;
      return Promise.resolve({
        kind: 'unavailable',
        code: 'TG_ERR_POOL_OVERLOADED',
        reason: `pool '${this.name}' has ${this.inflight} requests in flight and ${this.config.maxPending} waiting`,
        retryAfterMs: 1000,
      });
    }
    return new Promise((resolve) => this.pending.push({ request, resolve }));
  }

  private async run(request: UpstreamRequest): Promise<UpstreamResult> {
    this.inflight++;
    try {
      return await this.attempt(request);
    } finally {
      this.inflight--;
      this.next();
    }
  }

  private next(): void {
    if (this.pendingHead < this.pending.length && this.inflight < this.config.maxInflight) {
      const w = this.pending[this.pendingHead]!;
      this.pending[this.pendingHead++] = undefined as unknown as Waiter;
      if (this.pendingHead > 1024 && this.pendingHead * 2 > this.pending.length) {
        this.pending.splice(0, this.pendingHead);
        this.pendingHead = 0;
      }
      void this.run(w.request).then(w.resolve);
    } else if (this.inflight === 0 && this.pendingHead >= this.pending.length) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** One try per endpoint at most, moving on only after a connection failure (nothing reached the back-end). */
  private async attempt(request: UpstreamRequest): Promise<UpstreamResult> {
    const tried = new Set<number>();
    let lastError = 'no endpoint available';
    let code = 'TG_ERR_UPSTREAM_UNAVAILABLE';
    for (let attempt = 1; attempt <= this.endpoints.length; attempt++) {
      const idx = this.strategy.pick(this.endpoints, request.key, tried);
      if (idx < 0) break;
      tried.add(idx);
      const ep = this.endpoints[idx]!;
      let timeout = this.config.timeoutMs;
      if (request.expiresAt !== undefined) timeout = Math.min(timeout, request.expiresAt - Date.now());
      if (timeout <= 0) return { kind: 'unavailable', code: 'TG_ERR_MESSAGE_EXPIRED', reason: 'message expired before delivery' };
      ep.inflight++;
      ep.requests++;
      try {
        const res = await ep.client.request({
          method: request.method as 'POST',
          path: request.path,
          headers: { ...request.headers, 'idempotency-key': request.idempotencyKey },
          body: request.body,
          headersTimeout: timeout,
          bodyTimeout: timeout,
        });
        const body = Buffer.from(await res.body.arrayBuffer());
        if (res.statusCode >= 500) ep.failures++;
        return {
          kind: 'response',
          status: res.statusCode,
          headers: flattenHeaders(res.headers),
          body,
          endpoint: ep.url,
          attempts: attempt,
        };
      } catch (err) {
        ep.failures++;
        lastError = `${ep.url}: ${(err as Error).message}`;
        if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
          // The request may have reached the back-end: do not try elsewhere here.
          return { kind: 'unavailable', code: 'TG_ERR_UPSTREAM_TIMEOUT', reason: `${ep.url} did not answer within ${timeout} ms` };
        }
        code = 'TG_ERR_UPSTREAM_UNAVAILABLE';
      } finally {
        ep.inflight--;
      }
    }
    return { kind: 'unavailable', code, reason: lastError, retryAfterMs: 1000 };
  }

  /** Resolves once nothing is in flight or pending. */
  idle(): Promise<void> {
    if (this.inflight === 0 && this.pendingHead >= this.pending.length) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stats(): PoolStats {
    return {
      name: this.name,
      inflight: this.inflight,
      pending: this.pending.length - this.pendingHead,
      requests: this.requests,
      rejectedOverload: this.rejectedOverload,
      endpoints: this.endpoints.map((e) => ({
        url: e.url,
        healthy: e.healthy,
        ejected: e.ejected,
        inflight: e.inflight,
        requests: e.requests,
        failures: e.failures,
      })),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.endpoints.map((e) => e.close()));
  }
}

function flattenHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/**
 * The attempt loop of one request: pick an endpoint, send, classify, and
 * retry elsewhere within the retry policy, the budget and the deadline.
 */
import { performance } from 'node:perf_hooks';
import type { PoolConfig } from '../config/types.js';
import { sleep, type Clock } from './clock.js';
import type { Endpoint } from './endpoint.js';
import type { OutlierDetector } from './health/outlier.js';
import type { PoolMetrics } from './metrics.js';
import { httpCall } from './http-call.js';
import { classifyError, type RetryPolicy } from './retry.js';
import type { Strategy } from './strategies/strategy.js';
import type { UpstreamRequest, UpstreamResult } from './types.js';

interface Attempted {
  readonly result: UpstreamResult;
  readonly retryable: boolean;
}

export interface RequesterParts {
  readonly config: PoolConfig;
  readonly endpoints: readonly Endpoint[];
  readonly strategy: Strategy;
  readonly retry: RetryPolicy;
  readonly outlier: OutlierDetector;
  readonly metrics: PoolMetrics;
  readonly clock: Clock;
}

/** The unavailable result for a message whose time ran out. */
export function expired(reason = 'message expired before delivery'): UpstreamResult {
  return { kind: 'unavailable', code: 'TG_ERR_MESSAGE_EXPIRED', reason };
}

export class Requester {
  retries = 0;
  budgetExhausted = 0;
  private readonly hashKey: (request: UpstreamRequest) => string;
  private readonly pipelined: boolean;

  constructor(private readonly p: RequesterParts) {
    this.pipelined = p.config.pipelining > 1;
    const { hashOn, hashHeader } = p.config;
    if (hashOn === 'address') this.hashKey = (r) => r.headers['x-thinggate-address'] ?? r.key;
    else if (hashOn === 'header' && hashHeader !== undefined) {
      const h = hashHeader.toLowerCase();
      this.hashKey = (r) => r.headers[h] ?? r.key;
    } else this.hashKey = (r) => r.key;
  }

  /** Sends `request` (with its headers already completed) until an answer, a final failure or the deadline. */
  async send(request: UpstreamRequest, headers: Record<string, string>): Promise<UpstreamResult> {
    const { config, endpoints, strategy, retry, clock } = this.p;
    const now = clock.now();
    let deadline = now + config.totalTimeoutMs;
    if (request.expiresAt !== undefined && request.expiresAt < deadline) deadline = request.expiresAt;
    if (deadline <= now) return expired();
    const key = this.hashKey(request);
    let tried: Set<number> | undefined;
    let last: UpstreamResult | undefined;
    let retrying = false;
    retry.active++;
    try {
      for (let attempt = 1; ; attempt++) {
        let idx = strategy.pick(endpoints, key, tried);
        // Every endpoint tried already: the same one again beats giving up.
        if (idx < 0 && tried) idx = strategy.pick(endpoints, key);
        if (idx < 0) {
          return (
            last ?? { kind: 'unavailable', code: 'TG_ERR_UPSTREAM_UNAVAILABLE', reason: `pool '${config.name}' has no available endpoint`, retryAfterMs: 1000 }
          );
        }
        const remaining = deadline - clock.now();
        if (remaining <= 0) return last ?? expired();
        const a = await this.attempt(endpoints[idx]!, idx, request, headers, Math.min(config.timeoutMs, remaining), attempt);
        last = a.result;
        if (retrying) {
          retrying = false;
          retry.retrying--;
        }
        if (!a.retryable || attempt >= retry.config.maxAttempts) return a.result;
        if (!retry.budgetAllows()) {
          this.budgetExhausted++;
          return a.result;
        }
        const wait = retry.backoffMs(attempt);
        if (clock.now() + wait >= deadline) return a.result;
        (tried ??= new Set()).add(idx);
        retrying = true;
        retry.retrying++;
        if (wait > 0) await sleep(clock, wait);
      }
    } finally {
      retry.active--;
      if (retrying) retry.retrying--;
    }
  }

  private async attempt(
    ep: Endpoint,
    idx: number,
    request: UpstreamRequest,
    headers: Record<string, string>,
    timeout: number,
    attempt: number,
  ): Promise<Attempted> {
    const { retry, outlier, metrics } = this.p;
    ep.inflight++;
    ep.requests++;
    if (attempt > 1) {
      ep.retries++;
      this.retries++;
      metrics.retry();
    }
    const t0 = performance.now();
    try {
      const res = await httpCall(ep.client, {
        method: request.method,
        path: ep.basePath + request.path,
        headers,
        body: request.body,
        timeoutMs: timeout,
        pipelined: this.pipelined,
      });
      const ms = performance.now() - t0;
      ep.observe(ms, this.p.clock.now());
      metrics.attempt(idx, res.status, ms / 1000);
      const status = res.status;
      if (status >= 500) {
        ep.failures++;
        outlier.onFailure(idx);
      } else outlier.onSuccess(idx);
      return {
        result: { kind: 'response', status, headers: res.headers, body: res.body, endpoint: ep.url, attempts: attempt },
        retryable: retry.retriesStatus(status),
      };
    } catch (err) {
      const ms = performance.now() - t0;
      const failure = classifyError(err);
      if (failure === 'timeout') ep.observe(ms, this.p.clock.now());
      metrics.attempt(idx, failure, ms / 1000);
      ep.failures++;
      outlier.onFailure(idx);
      const result: UpstreamResult =
        failure === 'timeout'
          ? { kind: 'unavailable', code: 'TG_ERR_UPSTREAM_TIMEOUT', reason: `${ep.url} did not answer within ${timeout} ms`, retryAfterMs: 1000 }
          : { kind: 'unavailable', code: 'TG_ERR_UPSTREAM_UNAVAILABLE', reason: `${ep.url}: ${(err as Error).message} (${failure})`, retryAfterMs: 1000 };
      return { result, retryable: retry.retriesFailure(failure) };
    } finally {
      ep.inflight--;
    }
  }
}

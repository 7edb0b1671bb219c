/**
 * Retry policy: which attempt outcomes may be retried, how long to back off,
 * and the retry budget that keeps an outage from becoming a retry storm
 * (after Envoy's retry budgets: retries in progress may be at most
 * budgetPercent of the active requests, with minRetryConcurrency always
 * allowed).
 */
import type { RetryConfig, RetryOn } from '../config/types.js';

/** Why an attempt failed without an HTTP answer. */
export type AttemptFailure = 'connect-failure' | 'reset' | 'timeout';

export class RetryPolicy {
  private readonly on: ReadonlySet<RetryOn>;
  /** Requests being dispatched (first attempts and retries). */
  active = 0;
  /** Retries in progress, backoff included. */
  retrying = 0;

  constructor(
    readonly config: RetryConfig,
    private readonly random: () => number = Math.random,
  ) {
    this.on = new Set(config.retryOn);
  }

  /** True when a response with this status may be retried. */
  retriesStatus(status: number): boolean {
    if (status < 500) return false;
    if (this.on.has('5xx')) return true;
    return (status === 502 || status === 503 || status === 504) && this.on.has(String(status) as RetryOn);
  }

  retriesFailure(failure: AttemptFailure): boolean {
    return this.on.has(failure);
  }

  /** True when one more retry fits the budget now. */
  budgetAllows(): boolean {
    const allowed = Math.max(this.config.minRetryConcurrency, (this.config.budgetPercent / 100) * this.active);
    return this.retrying < allowed;
  }

  /** Exponential backoff with full jitter before retry number `retry` (1-based). */
  backoffMs(retry: number): number {
    const cap = Math.min(this.config.backoffMaxMs, this.config.backoffBaseMs * 2 ** (retry - 1));
    return Math.floor(this.random() * (cap + 1));
  }
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_DESTROYED',
  'UND_ERR_CLOSED',
]);

/**
 * Classifies an undici error. Connect failures never reached the back-end;
 * after a reset or a timeout the back-end may have seen the request, which
 * is why every attempt carries the same Idempotency-Key.
 */
export function classifyError(err: unknown): AttemptFailure {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (CONNECT_CODES.has(code)) return 'connect-failure';
    if (code === 'TG_ERR_UPSTREAM_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
    // TLS handshake failures (unknown CA, wrong name, protocol version) happen before any request byte.
    if (/CERT|TLS|SSL|UNABLE_TO|SELF_SIGNED|EPROTO/.test(code)) return 'connect-failure';
  }
  return 'reset';
}

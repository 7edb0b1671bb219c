/**
 * The balancer's contract. It sees UpstreamRequests, never packets or
 * Envelopes: listeners and the balancer never know each other; the pipeline
 * (routing/) joins them.
 */
import type { TgErrorCode } from '../error-codes.js';

/** One message's request toward a pool. */
export interface UpstreamRequest {
  readonly pool: string;
  readonly method: string;
  /** Path and query, starting with '/'. */
  readonly path: string;
  /** Lower-cased header names. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** The envelope id; sent as `Idempotency-Key` on every attempt. */
  readonly idempotencyKey: string;
  /** Affinity key for consistent hashing and ordered delivery (client id unless a script says otherwise). */
  readonly key: string;
  /** Milliseconds since the epoch; caps the total time spent on the request (message expiry). */
  readonly expiresAt?: number;
  /**
   * Whether a pool with a durable spool may take this request for later
   * delivery. Undefined means yes; the pipeline sets false for at-most-once
   * messages and for requests whose response is a reply to the device.
   */
  readonly spool?: boolean;
  /**
   * Who sent the message: the pool shares its places in flight and its
   * queue fairly between source addresses and, within one, client ids
   * (fair-queue.ts). Requests without one share a single turn.
   */
  readonly source?: RequestSource;
  /**
   * Aborted once nobody can be told the outcome (the device's connection
   * closed before any acknowledgement): the pool drops the request unsent
   * if it has not left yet (TG_ERR_CONNECTION_CLOSED). Never honoured once
   * a request is on the durable spool.
   */
  readonly signal?: AbortSignal;
}

/** The sender of a request, as the fairness between sources sees it (an Envelope's source fits). */
export interface RequestSource {
  readonly remoteAddress: string;
  readonly clientId: string;
}

export type UpstreamResult =
  /** A back-end answered (any status). */
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly headers: Readonly<Record<string, string>>;
      readonly body: Buffer;
      /** URL of the endpoint that answered. */
      readonly endpoint: string;
      readonly attempts: number;
    }
  /** Taken for later delivery (durable spool): the device may be acknowledged. */
  | { readonly kind: 'spooled' }
  /** No back-end could take it now (all attempts failed, circuit open, pool overloaded, expired). */
  | { readonly kind: 'unavailable'; readonly code: TgErrorCode; readonly reason: string; readonly retryAfterMs?: number };

/** Counts per latency bucket: `counts[i]` requests took at most `boundsMs[i]` (the last bucket is unbounded). */
export interface LatencyHistogram {
  readonly boundsMs: readonly number[];
  readonly counts: readonly number[];
}

export type HealthState = 'healthy' | 'unhealthy' | 'ejected';

export interface EndpointStats {
  readonly url: string;
  /** Passes active health checks (always true without them). */
  readonly healthy: boolean;
  /** Ejected by outlier detection now. */
  readonly ejected: boolean;
  /** Drained by an operator: takes no new messages. */
  readonly drained: boolean;
  readonly state: HealthState;
  readonly inflight: number;
  readonly requests: number;
  /** Attempts that failed: connect errors, resets, timeouts and 5xx. */
  readonly failures: number;
  /** Retries sent to this endpoint. */
  readonly retries: number;
  /** Times outlier detection ejected it. */
  readonly ejections: number;
  /** Latency EWMA in milliseconds (p2c-ewma's input). */
  readonly ewmaMs: number;
  readonly latency: LatencyHistogram;
}

export interface PoolStats {
  readonly name: string;
  readonly strategy: string;
  readonly inflight: number;
  readonly pending: number;
  readonly requests: number;
  readonly rejectedOverload: number;
  /** Requests dropped unsent because their device connection had closed (TG_ERR_CONNECTION_CLOSED). */
  readonly cancelled: number;
  readonly retries: number;
  /** Retries refused because the retry budget was spent. */
  readonly retryBudgetExhausted: number;
  /** True while the healthy share is under the panic threshold. */
  readonly panic: boolean;
  /** Messages on the durable spool waiting for delivery (absent without a spool). */
  readonly spooled?: number;
  readonly endpoints: readonly EndpointStats[];
}

/** What the pipeline dispatches through. */
export interface Balancer {
  /** Never rejects: failures are `unavailable` results. */
  dispatch(request: UpstreamRequest): Promise<UpstreamResult>;
  hasPool(name: string): boolean;
  stats(): PoolStats[];
  /** Drains or undrains the endpoint `url` of `pool` (admin API); undefined when there is no such pool or endpoint. */
  setDrained(pool: string, url: string, drained: boolean): boolean | undefined;
  /** Waits for in-flight requests (up to `timeoutMs`), then closes connections. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * The balancer's contract. It sees UpstreamRequests, never packets or
 * Envelopes: listeners and the balancer never know each other; the pipeline
 * (routing/) joins them.
 */

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
  | { readonly kind: 'unavailable'; readonly code: string; readonly reason: string; readonly retryAfterMs?: number };

export interface EndpointStats {
  readonly url: string;
  readonly healthy: boolean;
  readonly ejected: boolean;
  readonly inflight: number;
  readonly requests: number;
  readonly failures: number;
}

export interface PoolStats {
  readonly name: string;
  readonly inflight: number;
  readonly pending: number;
  readonly requests: number;
  readonly rejectedOverload: number;
  readonly endpoints: readonly EndpointStats[];
}

/** What the pipeline dispatches through. */
export interface Balancer {
  /** Never rejects: failures are `unavailable` results. */
  dispatch(request: UpstreamRequest): Promise<UpstreamResult>;
  hasPool(name: string): boolean;
  stats(): PoolStats[];
  /** Waits for in-flight requests (up to `timeoutMs`), then closes connections. */
  close(timeoutMs?: number): Promise<void>;
}

/**
 * One back-end endpoint: its keep-alive connections and the
 * counters strategies, health and stats read. Whether it may be picked
 * (`available`) is decided by its pool (health, ejection, panic mode) and
 * stored here so a strategy's pick reads one field.
 */
import { Connections, type ConnectionsOptions } from './connections.js';
import type { StrategyEndpoint } from './strategies/strategy.js';
import type { EndpointConfig } from '../config/types.js';
import type { EndpointStats, HealthState } from './types.js';

/** Upper bounds (ms) of the latency buckets kept for stats(); a last bucket takes the rest. */
export const LATENCY_BOUNDS_MS: readonly number[] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** Decay time of the latency EWMA: a sample 1 s old weighs 1/e of a new one. */
const EWMA_TAU_MS = 1000;

export type EndpointOptions = ConnectionsOptions;

export class Endpoint implements StrategyEndpoint {
  readonly url: string;
  /** Path of the endpoint URL (no trailing slash, '' for none), put in front of every request path. */
  readonly basePath: string;
  readonly weight: number;
  readonly client: Connections;
  inflight = 0;
  requests = 0;
  failures = 0;
  retries = 0;
  ejections = 0;
  /** Passes active health checks. */
  healthy = true;
  /** Ejected by outlier detection. */
  ejected = false;
  /** May be picked now; set by the pool from health, ejection, panic mode and an operator's drain. */
  available = true;
  /** Drained by an operator (admin API): picked for no new message, even in panic mode; in-flight ones finish. */
  drained = false;
  ewmaMs = 0;
  private ewmaAt = 0;
  private readonly latency = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);

  constructor(config: EndpointConfig, options: EndpointOptions) {
    this.url = config.url.replace(/\/+$/, '');
    const u = new URL(this.url);
    this.basePath = u.pathname.replace(/\/+$/, '');
    this.weight = config.weight;
    // undici connects to an origin; a path in the endpoint URL is a prefix we add ourselves.
    this.client = new Connections(u.origin, options);
  }

  /** Routable by its own state, before panic mode is considered. */
  get routable(): boolean {
    return this.healthy && !this.ejected;
  }

  get state(): HealthState {
    return this.ejected ? 'ejected' : this.healthy ? 'healthy' : 'unhealthy';
  }

  /**
   * Records one attempt's latency. The EWMA is peak-sensitive (as in
   * Finagle's peak EWMA): a slower sample takes effect at once, faster ones
   * pull it down with time, so a stalling endpoint is avoided quickly.
   */
  observe(ms: number, now: number): void {
    let b = 0;
    while (b < LATENCY_BOUNDS_MS.length && ms > LATENCY_BOUNDS_MS[b]!) b++;
    this.latency[b]!++;
    if (ms >= this.ewmaMs || this.ewmaAt === 0) this.ewmaMs = ms;
    else {
      const w = Math.exp(-Math.max(0, now - this.ewmaAt) / EWMA_TAU_MS);
      this.ewmaMs = this.ewmaMs * w + ms * (1 - w);
    }
    this.ewmaAt = now;
  }

  stats(): EndpointStats {
    return {
      url: this.url,
      healthy: this.healthy,
      ejected: this.ejected,
      drained: this.drained,
      state: this.state,
      inflight: this.inflight,
      requests: this.requests,
      failures: this.failures,
      retries: this.retries,
      ejections: this.ejections,
      ewmaMs: Math.round(this.ewmaMs * 1000) / 1000,
      latency: { boundsMs: LATENCY_BOUNDS_MS, counts: [...this.latency] },
    };
  }

  close(): Promise<void> {
    return this.client.close();
  }

  destroy(): Promise<void> {
    return this.client.destroy();
  }
}

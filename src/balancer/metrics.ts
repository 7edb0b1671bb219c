/**
 * Prometheus metrics of one pool (`thinggate_upstream_…`). Label children are
 * bound once per endpoint so the hot path does no label lookups.
 */
import type { TgErrorCode } from '../error-codes.js';
import type { Counter, Gauge, Histogram, LocalCounter, Metrics } from '../observability/metrics.js';

type Outcome = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'connect-failure' | 'reset' | 'timeout';

const ATTEMPTS = 'thinggate_upstream_attempts_total';
const ATTEMPTS_HELP = 'HTTP attempts toward back-end endpoints by outcome';
const STATUS_CLASSES: readonly Outcome[] = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

interface Bound {
  /** Attempt counters by outcome, counted locally (folded into the counter when it is read). */
  readonly outcomes: Map<Outcome, LocalCounter>;
  readonly duration: ReturnType<Histogram<'pool' | 'endpoint'>['labels']>;
}

export class PoolMetrics {
  private readonly metrics?: Metrics;
  private readonly duration?: Histogram<'pool' | 'endpoint'>;
  private readonly retries?: Counter<'pool'>;
  private readonly ejections?: Counter<'pool' | 'endpoint'>;
  private readonly healthy?: Gauge<'pool' | 'endpoint'>;
  private readonly rejected?: Counter<'pool' | 'code'>;
  private readonly spooled?: Gauge<'pool'>;
  private readonly panic?: Gauge<'pool'>;
  private readonly bound: Bound[] = [];

  constructor(
    metrics: Metrics | undefined,
    private readonly pool: string,
    private readonly endpoints: readonly string[],
  ) {
    if (!metrics) return;
    this.metrics = metrics;
    metrics.counter(ATTEMPTS, ATTEMPTS_HELP, ['pool', 'endpoint', 'outcome']);
    this.duration = metrics.histogram('thinggate_upstream_attempt_duration_seconds', 'Duration of HTTP attempts toward back-end endpoints', [
      'pool',
      'endpoint',
    ]);
    this.retries = metrics.counter('thinggate_upstream_retries_total', 'Retries sent by a pool', ['pool']);
    this.ejections = metrics.counter('thinggate_upstream_ejections_total', 'Endpoints ejected by outlier detection', ['pool', 'endpoint']);
    this.healthy = metrics.gauge('thinggate_upstream_endpoint_healthy', '1 while an endpoint may take traffic (healthy and not ejected)', ['pool', 'endpoint']);
    this.rejected = metrics.counter('thinggate_upstream_rejected_total', 'Messages a pool answered unavailable without an attempt, by code', ['pool', 'code']);
    this.spooled = metrics.gauge('thinggate_upstream_spool_messages', 'Messages on a pool durable spool', ['pool']);
    this.panic = metrics.gauge('thinggate_upstream_panic', '1 while a pool balances over all endpoints (panic threshold)', ['pool']);
    for (const endpoint of endpoints) {
      this.bound.push({ outcomes: new Map(), duration: this.duration.labels(pool, endpoint) });
      this.healthy.labels(pool, endpoint).set(1);
    }
  }

  attempt(index: number, status: number | Outcome, seconds: number): void {
    const b = this.bound[index];
    if (!b) return;
    const outcome: Outcome = typeof status === 'number' ? (STATUS_CLASSES[Math.floor(status / 100)] ?? '5xx') : status;
    let c = b.outcomes.get(outcome);
    if (!c) b.outcomes.set(outcome, (c = this.metrics!.localCounter(ATTEMPTS, ATTEMPTS_HELP, { pool: this.pool, endpoint: this.endpoints[index]!, outcome })));
    c.inc();
    b.duration.observe(seconds);
  }

  retry(): void {
    this.retries?.labels(this.pool).inc();
  }

  ejection(index: number): void {
    this.ejections?.labels(this.pool, this.endpoints[index]!).inc();
  }

  available(index: number, up: boolean): void {
    this.healthy?.labels(this.pool, this.endpoints[index]!).set(up ? 1 : 0);
  }

  rejectedWith(code: TgErrorCode): void {
    this.rejected?.labels(this.pool, code).inc();
  }

  spool(size: number): void {
    this.spooled?.labels(this.pool).set(size);
  }

  panicMode(on: boolean): void {
    this.panic?.labels(this.pool).set(on ? 1 : 0);
  }
}

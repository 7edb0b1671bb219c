/**
 * Metrics registry (Prometheus text format via prom-client). Metric names
 * follow `thinggate_<downstream|upstream|script|guard>_…`. Stages create their
 * metrics through this registry so one gateway's metrics stay together.
 */
import client from 'prom-client';

export type Counter<L extends string = string> = client.Counter<L>;
export type Gauge<L extends string = string> = client.Gauge<L>;
export type Histogram<L extends string = string> = client.Histogram<L>;

/** One labelled counter series counted in a plain number (see {@link Metrics.localCounter}). */
export interface LocalCounter {
  inc(value?: number): void;
}

class LocalCount implements LocalCounter {
  n = 0;
  inc(value = 1): void {
    this.n += value;
  }
}

/**
 * Default metrics read synchronously at each scrape in time proportional to
 * the open sockets: a listing of /proc/self/fd, and arrays of every active
 * handle or resource. With tens of thousands of device connections a scrape
 * would hold the event loop for tens of milliseconds (bench/RESULTS.md,
 * admin); thinggate_downstream_connections counts the connections instead.
 */
export const SCALING_PROCESS_METRICS: readonly string[] = [
  'process_open_fds',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_requests',
  'nodejs_active_requests_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
];

export class Metrics {
  readonly registry = new client.Registry();
  private readonly cache = new Map<string, client.Metric<string>>();
  private processMetrics = false;
  /** Local counts by counter name, folded into the counter whenever it is read. */
  private readonly local = new Map<string, Map<string, { readonly labels: Record<string, string>; readonly count: LocalCount }>>();

  /** A counter, created on first use; the same name returns the same counter. */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    const local = this.local;
    return this.getOrCreate(
      name,
      () =>
        new client.Counter<L>({
          name,
          help,
          labelNames,
          registers: [this.registry],
          // Folds the per-message local counts in before every read (scrape or get()).
          collect(this: Counter<L>) {
            const series = local.get(name);
            if (!series) return;
            for (const { labels, count } of series.values()) {
              if (count.n > 0) {
                this.inc(labels as Partial<Record<L, string>>, count.n);
                count.n = 0;
              }
            }
          },
        }),
    ) as Counter<L>;
  }

  /**
   * One series of a counter, counted in a plain number and folded into the
   * Prometheus counter when it is read: for per-message counts, where
   * prom-client would hash the label set on every increment. The same name
   * and labels return the same series.
   */
  localCounter<L extends string>(name: string, help: string, labels: Readonly<Record<L, string>>): LocalCounter {
    const labelNames = Object.keys(labels) as L[];
    this.counter(name, help, labelNames);
    let series = this.local.get(name);
    if (!series) this.local.set(name, (series = new Map()));
    const key = labelNames.map((k) => `${k}\u0000${labels[k]}`).join('\u0001');
    let entry = series.get(key);
    if (!entry) series.set(key, (entry = { labels: { ...labels }, count: new LocalCount() }));
    return entry.count;
  }

  gauge<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return this.getOrCreate(name, () => new client.Gauge<L>({ name, help, labelNames, registers: [this.registry] })) as Gauge<L>;
  }

  histogram<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets: number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  ): Histogram<L> {
    return this.getOrCreate(name, () => new client.Histogram<L>({ name, help, labelNames, buckets, registers: [this.registry] })) as Histogram<L>;
  }

  /**
   * Adds prom-client's default process metrics (CPU, memory, event-loop lag,
   * GC) to this registry; once per registry. They are read at scrape time,
   * on the event loop, so those whose cost grows with the number of open
   * connections are left out (see {@link SCALING_PROCESS_METRICS}).
   */
  collectProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    client.collectDefaultMetrics({ register: this.registry });
    for (const name of SCALING_PROCESS_METRICS) this.registry.removeSingleMetric(name);
  }

  /** Prometheus exposition text. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  private getOrCreate(name: string, make: () => client.Metric<string>): client.Metric<string> {
    let m = this.cache.get(name);
    if (!m) this.cache.set(name, (m = make()));
    return m;
  }
}

/**
 * Metrics registry (Prometheus text format via prom-client). Metric names
 * follow `thinggate_<downstream|upstream|script|guard>_…`. Stages create their
 * metrics through this registry so one gateway's metrics stay together.
 */
import client from 'prom-client';

export type Counter<L extends string = string> = client.Counter<L>;
export type Gauge<L extends string = string> = client.Gauge<L>;

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

export class Metrics {
  readonly registry = new client.Registry();
  private readonly cache = new Map<string, client.Metric<string>>();
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

  /** A histogram, created on first use; the same name returns the same histogram. */
  histogram<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  ): Histogram<L> {
    return this.getOrCreate(name, () => {
      const h = new Histogram<L>(name, help, labelNames, buckets);
      this.registry.registerMetric(h as unknown as client.Metric<string>);
      return h as unknown as client.Metric<string>;
    }) as unknown as Histogram<L>;
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

/** One labelled series of a {@link Histogram}: bucket counts, sum and count in plain numbers. */
export class HistogramSeries {
  /** Observations per bucket (not cumulative); the last slot counts those above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    private readonly bounds: readonly number[],
    readonly labels: Readonly<Record<string, string>>,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`histogram value is not a finite number: ${value}`);
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram registered with prom-client's registry, exposed in
 * the same text as prom-client's own, but observed at the cost of a few
 * comparisons: prom-client hashes the label set on every observation, also
 * through a child bound with `labels()`, and histograms are observed per
 * back-end request.
 */
export class Histogram<L extends string = string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    private readonly bounds: readonly number[],
  ) {}

  /** The series of these label values (in `labelNames` order), created on first use. */
  labels(...values: string[]): HistogramSeries {
    if (values.length !== this.labelNames.length) throw new Error(`histogram ${this.name} takes ${this.labelNames.length} label values, got ${values.length}`);
    const key = values.join('\u0000');
    let s = this.series.get(key);
    if (!s) {
      const labels: Record<string, string> = {};
      this.labelNames.forEach((n, i) => (labels[n] = values[i]!));
      this.series.set(key, (s = new HistogramSeries(this.bounds, labels)));
    }
    return s;
  }

  /** What prom-client's registry formats: cumulative `_bucket` series with `le`, then `_sum` and `_count`. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> } {
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    for (const s of this.series.values()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le, ...s.labels }, value: acc, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}

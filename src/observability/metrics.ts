/**
 * Metrics registry (Prometheus text format via prom-client). Metric names
 * follow `thinggate_<downstream|upstream|script|guard>_…`. Stages create their
 * metrics through this registry so one gateway's metrics stay together.
 */
import client from 'prom-client';

export type Counter<L extends string = string> = client.Counter<L>;
export type Gauge<L extends string = string> = client.Gauge<L>;
export type Histogram<L extends string = string> = client.Histogram<L>;

export class Metrics {
  readonly registry = new client.Registry();
  private readonly cache = new Map<string, client.Metric<string>>();

  /** A counter, created on first use; the same name returns the same counter. */
  counter<L extends string>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.getOrCreate(name, () => new client.Counter<L>({ name, help, labelNames, registers: [this.registry] })) as Counter<L>;
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
    return this.getOrCreate(
      name,
      () => new client.Histogram<L>({ name, help, labelNames, buckets, registers: [this.registry] }),
    ) as Histogram<L>;
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

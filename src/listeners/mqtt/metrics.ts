/**
 * Listener metrics. Per-packet counting is a plain integer increment; the
 * totals are folded into the Prometheus counters once a second (and on
 * stop), so the hot path never hashes label sets.
 */
import type { Counter, Metrics } from '../../observability/metrics.js';

/** How often local counts are folded into the registry. */
const FLUSH_MS = 1000;

export class MqttMetrics {
  private readonly rxCounts = new Map<string, number>();
  private readonly txCounts = new Map<string, number>();
  private readonly dropCounts = new Map<string, number>();
  private readonly rxCounter: Counter<'listener' | 'type'>;
  private readonly txCounter: Counter<'listener' | 'type'>;
  private readonly dropCounter: Counter<'listener' | 'reason'>;
  private timer: NodeJS.Timeout | undefined;
  readonly connections: { inc(): void; dec(): void };

  constructor(
    metrics: Metrics,
    private readonly listener: string,
  ) {
    this.connections = metrics.gauge('thinggate_downstream_connections', 'Open device connections, by listener', ['listener']).labels(listener);
    this.rxCounter = metrics.counter('thinggate_downstream_packets_total', 'Protocol packets received from devices, by listener and type', [
      'listener',
      'type',
    ]);
    this.txCounter = metrics.counter('thinggate_downstream_packets_sent_total', 'Protocol packets sent to devices, by listener and type', ['listener', 'type']);
    this.dropCounter = metrics.counter('thinggate_downstream_dropped_total', 'Device messages dropped, by listener and reason', ['listener', 'reason']);
  }

  start(): void {
    this.timer ??= setInterval(() => this.flush(), FLUSH_MS).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.flush();
  }

  /** One packet received from a device. */
  rx(type: string): void {
    this.rxCounts.set(type, (this.rxCounts.get(type) ?? 0) + 1);
  }

  /** One packet sent to a device. */
  tx(type: string): void {
    this.txCounts.set(type, (this.txCounts.get(type) ?? 0) + 1);
  }

  /** A message not delivered or not acknowledged (QoS 0 failures, full queues, oversize for the client). */
  dropped(reason: string): void {
    this.dropCounts.set(reason, (this.dropCounts.get(reason) ?? 0) + 1);
  }

  /** Folds local counts into the registry. */
  flush(): void {
    for (const [type, n] of this.rxCounts) if (n > 0) this.rxCounter.inc({ listener: this.listener, type }, n);
    for (const [type, n] of this.txCounts) if (n > 0) this.txCounter.inc({ listener: this.listener, type }, n);
    for (const [reason, n] of this.dropCounts) if (n > 0) this.dropCounter.inc({ listener: this.listener, reason }, n);
    this.rxCounts.clear();
    this.txCounts.clear();
    this.dropCounts.clear();
  }
}

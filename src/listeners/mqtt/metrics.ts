/**
 * Listener metrics. Label children are bound once per packet type so the
 * per-packet cost is one property lookup and one increment.
 */
import type { Metrics } from '../../observability/metrics.js';

interface Incrementable {
  inc(value?: number): void;
}

export class MqttMetrics {
  private readonly rxByType = new Map<string, Incrementable>();
  private readonly txByType = new Map<string, Incrementable>();
  private readonly droppedByReason = new Map<string, Incrementable>();
  readonly connections: { inc(): void; dec(): void };

  constructor(
    private readonly metrics: Metrics,
    private readonly listener: string,
  ) {
    this.connections = metrics
      .gauge('thinggate_downstream_connections', 'Open device connections, by listener', ['listener'])
      .labels(listener);
  }

  /** One packet received from a device. */
  rx(type: string): void {
    let c = this.rxByType.get(type);
    if (!c) {
      c = this.metrics
        .counter('thinggate_downstream_packets_total', 'Protocol packets received from devices, by listener and type', ['listener', 'type'])
        .labels(this.listener, type);
      this.rxByType.set(type, c);
    }
    c.inc();
  }

  /** One packet sent to a device. */
  tx(type: string): void {
    let c = this.txByType.get(type);
    if (!c) {
      c = this.metrics
        .counter('thinggate_downstream_packets_sent_total', 'Protocol packets sent to devices, by listener and type', ['listener', 'type'])
        .labels(this.listener, type);
      this.txByType.set(type, c);
    }
    c.inc();
  }

  /** A message not delivered or not acknowledged (QoS 0 failures, full queues, oversize for the client). */
  dropped(reason: string): void {
    let c = this.droppedByReason.get(reason);
    if (!c) {
      c = this.metrics
        .counter('thinggate_downstream_dropped_total', 'Device messages dropped, by listener and reason', ['listener', 'reason'])
        .labels(this.listener, reason);
      this.droppedByReason.set(reason, c);
    }
    c.inc();
  }
}

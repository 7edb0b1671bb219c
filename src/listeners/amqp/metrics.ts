/** The AMQP listener's metrics, created once per gateway registry. */
import type { Counter, Gauge, Metrics } from '../../observability/metrics.js';

export interface AmqpMetrics {
  readonly connections: Gauge<'listener'>;
  readonly connectionsTotal: Counter<'listener' | 'result'>;
  readonly deliveries: Counter<'listener' | 'state'>;
  readonly replies: Counter<'listener' | 'result'>;
  readonly southbound: Counter<'listener' | 'result'>;
  readonly closes: Counter<'listener' | 'condition'>;
  readonly credit: Gauge<'listener'>;
}

export function amqpMetrics(m: Metrics): AmqpMetrics {
  return {
    connections: m.gauge('thinggate_downstream_amqp_connections', 'Open AMQP connections', ['listener']),
    connectionsTotal: m.counter('thinggate_downstream_amqp_connections_total', 'AMQP connections accepted or refused, by result', ['listener', 'result']),
    deliveries: m.counter(
      'thinggate_downstream_amqp_deliveries_total',
      'Incoming AMQP deliveries by settlement (accepted, rejected, released, modified, presettled)',
      ['listener', 'state'],
    ),
    replies: m.counter('thinggate_downstream_amqp_replies_total', 'Replies toward reply-to addresses, by result (sent, no-link, no-credit)', [
      'listener',
      'result',
    ]),
    southbound: m.counter('thinggate_downstream_amqp_device_messages_total', 'Messages sent to devices on their receiver links, by result', [
      'listener',
      'result',
    ]),
    closes: m.counter('thinggate_downstream_amqp_closes_total', 'Connections and links closed by thinggate with an error, by condition', [
      'listener',
      'condition',
    ]),
    credit: m.gauge('thinggate_downstream_amqp_credit', 'Link credit currently granted to devices', ['listener']),
  };
}

/**
 * Protocol-abuse detection. Listeners report every violation here as a
 * structured security event: it is logged (naming the spec clause), counted,
 * and — later — fed to ban decisions.
 */
import type { Logger } from 'pino';
import type { Metrics, Counter } from '../observability/metrics.js';

export interface SecurityEvent {
  /** Short machine name: 'malformed-packet', 'protocol-error', 'oversize', 'flood', 'slow-client', 'auth-failure', ... */
  readonly kind: string;
  readonly listener: string;
  readonly remoteAddress?: string;
  readonly clientId?: string;
  /** Spec clause the rule comes from, e.g. 'MQTT-3.1.0-2' or 'RFC7252-4.5'. */
  readonly clause?: string;
  /** Protocol reason code sent to the peer, when one was (e.g. 0x82). */
  readonly reasonCode?: number;
  readonly detail: string;
}

export class Guard {
  private readonly events: Counter<'listener' | 'kind'>;
  /** Read-only observers of reported events (the admin event log). */
  private readonly observers = new Set<(event: SecurityEvent) => void>();

  constructor(
    private readonly logger: Logger,
    metrics: Metrics,
  ) {
    this.events = metrics.counter('thinggate_guard_events_total', 'Protocol violations and abuse seen, by listener and kind', [
      'listener',
      'kind',
    ]);
  }

  /** Records a security event: a warn log line with `event: "security"` and a counter increment. */
  report(event: SecurityEvent): void {
    this.events.inc({ listener: event.listener, kind: event.kind });
    this.logger.warn({ event: 'security', ...event }, `security: ${event.kind}: ${event.detail}`);
    for (const o of this.observers) o(event);
  }

  /** Calls `observer` after each reported event; returns the function that stops it. */
  onEvent(observer: (event: SecurityEvent) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }
}

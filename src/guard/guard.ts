/**
 * Protocol-abuse detection. Listeners report every violation here as a
 * structured security event: it is counted, and logged (naming the spec
 * clause) — in full the first time a source repeats it, then as one summary
 * line per interval (repeats.ts) — and, later, fed to ban decisions.
 */
import type { Logger } from 'pino';
import type { Metrics, Counter } from '../observability/metrics.js';
import { RepeatFilter, type RepeatSummary } from './repeats.js';

export interface SecurityEvent {
  /** Short machine name: 'malformed-packet', 'protocol-error', 'oversize', 'flood', 'slow-client', 'connection-limit', 'tls-handshake-failure', 'auth-failure', ... */
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

export interface GuardOptions {
  /**
   * Repeats of one event (same listener, kind, clause and remote address)
   * are logged once, then summarised once per this interval; 0 logs every
   * event. Default {@link DEFAULT_SUMMARY_INTERVAL_MS}.
   */
  readonly summaryIntervalMs?: number;
}

export const DEFAULT_SUMMARY_INTERVAL_MS = 10_000;

/**
 * Kinds logged at info rather than warn: what scanners and misconfigured
 * clients cause all day long, with no harm done to the gateway.
 */
const INFO_KINDS: ReadonlySet<string> = new Set(['tls-handshake-failure']);

export class Guard {
  private readonly events: Counter<'listener' | 'kind'>;
  private readonly repeats: RepeatFilter;
  private summaryIntervalMs: number;
  /** Read-only observers of reported events (the admin event log). */
  private readonly observers = new Set<(event: SecurityEvent) => void>();

  constructor(
    private readonly logger: Logger,
    metrics: Metrics,
    options: GuardOptions = {},
  ) {
    this.events = metrics.counter('thinggate_guard_events_total', 'Protocol violations and abuse seen, by listener and kind', [
      'listener',
      'kind',
    ]);
    this.summaryIntervalMs = options.summaryIntervalMs ?? DEFAULT_SUMMARY_INTERVAL_MS;
    this.repeats = new RepeatFilter(this.summaryIntervalMs, (s) => this.summarise(s));
  }

  /**
   * Records a security event: a counter increment always, and a log line
   * with `event: "security"` (warn; info for the kinds in INFO_KINDS) unless
   * the same source repeated it within the summary interval.
   */
  report(event: SecurityEvent): void {
    this.events.inc({ listener: event.listener, kind: event.kind });
    if (!this.repeats.first(event)) return;
    this.logger[levelOf(event.kind)]({ event: 'security', ...event }, `security: ${event.kind}: ${event.detail}`);
    // Observers (the admin event log) see what the log shows: a source's repeats are summarised, not replayed.
    for (const o of this.observers) o(event);
  }

  /** Calls `observer` after each logged event; returns the function that stops it. */
  onEvent(observer: (event: SecurityEvent) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** How often repeats are summarised (0: every event is logged). */
  get summaryInterval(): number {
    return this.summaryIntervalMs;
  }

  /** Applies a reloaded configuration's interval. */
  configure(options: GuardOptions): void {
    this.summaryIntervalMs = options.summaryIntervalMs ?? DEFAULT_SUMMARY_INTERVAL_MS;
    this.repeats.setInterval(this.summaryIntervalMs);
  }

  /** Writes the summaries still pending (gateway stop). */
  flush(): void {
    this.repeats.flush();
  }

  private summarise(s: RepeatSummary): void {
    const from = s.remoteAddress !== undefined ? ` from ${s.remoteAddress}` : '';
    this.logger[levelOf(s.kind)](
      { event: 'security-summary', ...s, intervalMs: this.summaryIntervalMs },
      `security: ${s.kind}: ${s.suppressed} more${from} not logged (last: ${s.lastDetail})`,
    );
  }
}

function levelOf(kind: string): 'info' | 'warn' {
  return INFO_KINDS.has(kind) ? 'info' : 'warn';
}

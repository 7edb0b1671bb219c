/**
 * The dashboard's live feed: one snapshot a second, built once and sent to
 * every open dashboard (so N dashboards cost one snapshot, and each client
 * gets at most one update a second). The timer runs only while a dashboard
 * is open.
 */
import type { AdminContext } from './context.js';
import type { GatewayEvent } from '../observability/events.js';
import { listenerSummaries } from './api/listeners.js';

const OUTCOMES = 'thinggate_downstream_messages_total';
const SCRIPT_ERRORS = 'thinggate_script_errors_total';
/** Most events carried by one update. */
const MAX_EVENTS = 50;
const TOP = 5;

export type Snapshot = Record<string, unknown>;

export class DashboardFeed {
  private readonly subscribers = new Set<(s: Snapshot) => void>();
  private timer: NodeJS.Timeout | undefined;
  private lastAt = 0;
  private lastOutcomes = new Map<string, number>();
  private lastScriptErrors = 0;
  private lastSeq: number;

  constructor(
    private readonly ctx: AdminContext,
    private readonly intervalMs = 1000,
  ) {
    this.lastSeq = ctx.events.recent({ limit: 1 })[0]?.seq ?? 0;
  }

  /** Adds a dashboard; returns the function that removes it. The first snapshot follows at once. */
  subscribe(fn: (s: Snapshot) => void): () => void {
    this.subscribers.add(fn);
    if (!this.timer) {
      this.ctx.sampler.active = true;
      this.timer = setInterval(() => void this.tick(), this.intervalMs).unref();
    }
    void this.snapshot().then(fn, (err: unknown) => this.ctx.logger.warn({ err }, 'dashboard snapshot failed'));
    return () => {
      this.subscribers.delete(fn);
      if (this.subscribers.size === 0) this.stop();
    };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.ctx.sampler.active = false;
  }

  private async tick(): Promise<void> {
    let s: Snapshot;
    try {
      s = await this.snapshot();
    } catch (err) {
      this.ctx.logger.warn({ err }, 'dashboard snapshot failed');
      return;
    }
    for (const fn of this.subscribers) fn(s);
  }

  private async snapshot(): Promise<Snapshot> {
    const now = Date.now();
    const seconds = this.lastAt === 0 ? 1 : Math.max(0.001, (now - this.lastAt) / 1000);
    this.lastAt = now;
    const outcomes = await this.counterValues(OUTCOMES, (l) => `${l.listener}\u0000${l.outcome}`);
    const rates = new Map<string, Record<string, number>>();
    let total = 0;
    for (const [key, value] of outcomes) {
      const [listener, outcome] = key.split('\u0000') as [string, string];
      const delta = Math.max(0, value - (this.lastOutcomes.get(key) ?? value));
      total += delta;
      const r = rates.get(listener) ?? { accepted: 0, rejected: 0, unavailable: 0 };
      r[outcome] = round(delta / seconds);
      rates.set(listener, r);
    }
    this.lastOutcomes = outcomes;
    let scriptErrors = 0;
    for (const v of (await this.counterValues(SCRIPT_ERRORS, (l) => `${l.script}\u0000${l.code}`)).values()) scriptErrors += v;
    const scriptErrorRate = round(Math.max(0, scriptErrors - this.lastScriptErrors) / seconds);
    this.lastScriptErrors = scriptErrors;
    const events: GatewayEvent[] = this.ctx.events.recent({ since: this.lastSeq, limit: MAX_EVENTS });
    if (events.length > 0) this.lastSeq = events[events.length - 1]!.seq;
    const window = this.ctx.sampler.take(TOP);
    const listeners = listenerSummaries(this.ctx).map((l) => ({ ...l, rates: rates.get(l.name) ?? { accepted: 0, rejected: 0, unavailable: 0 } }));
    return {
      at: new Date(now).toISOString(),
      ready: this.ctx.readiness(),
      messagesPerSecond: round(total / seconds),
      connections: listeners.reduce((n, l) => n + l.connections, 0),
      listeners,
      latencyMs: window.latencyMs,
      pools: this.ctx.poolStats().map((p) => ({
        name: p.name,
        inflight: p.inflight,
        pending: p.pending,
        endpoints: p.endpoints.map((e) => ({
          url: e.url,
          state: e.state,
          drained: e.drained,
          inflight: e.inflight,
          requests: e.requests,
          failures: e.failures,
        })),
      })),
      scriptErrors: { total: scriptErrors, perSecond: scriptErrorRate },
      topDevices: window.devices,
      topAddresses: window.addresses,
      events,
    };
  }

  private async counterValues(name: string, key: (labels: Record<string, string | number>) => string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    const metric = this.ctx.metrics.registry.getSingleMetric(name);
    if (!metric) return out;
    for (const v of (await metric.get()).values) out.set(key(v.labels as Record<string, string | number>), v.value);
    return out;
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

/**
 * The decrypted mirror (tap): a copy of a route's messages, chosen by client
 * id, sampled by share and by rate, redacted, and handed to its destinations
 * (a rotating JSON-lines file, a pool over HTTP). It never delays or fails
 * the main path: `offer` is synchronous, each destination queues (bounded)
 * and writes later; what does not fit is dropped and counted.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Envelope } from '../envelope/index.js';
import type { MirrorConfig } from '../config/types.js';
import type { Metrics } from '../observability/metrics.js';
import type { UpstreamRequest, UpstreamResult } from '../balancer/types.js';
import { FileSink, PoolSink, type MirrorSink, type SinkCounters } from './mirror-sinks.js';
import { redactJson } from './mirror-redact.js';

export interface MirrorDeps {
  readonly baseDir: string;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The balancer's dispatch, for a mirror pool (bound late: the balancer is built after the routes). */
  readonly dispatch?: (request: UpstreamRequest) => Promise<UpstreamResult>;
  /** Clients switched on at run time (admin API): copied by every mirror, unsampled. */
  readonly clients?: { has(clientId: string): boolean };
  /** Injected randomness for sampling (tests). */
  readonly random?: () => number;
  /** Injected clock for the rate limit (tests). */
  readonly now?: () => number;
}

const REDACTED = '[redacted]';

/** `sample` as a fraction: `0.05` and `"5%"` alike. */
export function sampleFraction(sample: number | string): number {
  return typeof sample === 'number' ? sample : Math.min(1, Number(sample.slice(0, -1)) / 100);
}

/** A route's tap: `offer` is synchronous and O(1) apart from building the copy. */
export class Mirror {
  private readonly clientIds: ReadonlySet<string> | undefined;
  private readonly redactHeaders: ReadonlySet<string>;
  private readonly sample: number;
  private readonly sinks: MirrorSink[] = [];
  private tokens: number;
  private refilledAt: number;

  constructor(
    private readonly route: string,
    private readonly config: MirrorConfig,
    private readonly deps: MirrorDeps,
  ) {
    this.clientIds = config.clientIds && new Set(config.clientIds);
    this.redactHeaders = new Set(config.redactHeaders.map((h) => h.toLowerCase()));
    this.sample = sampleFraction(config.sample);
    this.tokens = config.rate ?? 0;
    this.refilledAt = this.now();
    const m = deps.metrics;
    const mirrored = m.counter('thinggate_guard_mirror_messages_total', 'Copies a route mirror handed to a destination', ['route', 'destination']);
    const dropped = m.counter('thinggate_guard_mirror_dropped_total', 'Mirror copies dropped: destination queue full or write failed', [
      'route',
      'destination',
    ]);
    const counters = (destination: string): SinkCounters => ({
      mirrored: mirrored.labels({ route, destination }),
      dropped: dropped.labels({ route, destination }),
    });
    const logger = deps.logger.child({ route });
    if (config.file !== undefined) {
      this.sinks.push(new FileSink(resolve(deps.baseDir, config.file), config.maxBytes, config.queue, counters('file'), logger));
    }
    if (config.pool !== undefined) {
      const dispatch = deps.dispatch ?? (() => Promise.resolve<UpstreamResult>({ kind: 'unavailable', code: 'TG_ERR_POOL_UNKNOWN', reason: 'no balancer' }));
      const options = { route, pool: config.pool, path: config.path, batch: config.batch, queue: config.queue, dispatch };
      this.sinks.push(new PoolSink(options, counters(`pool:${config.pool}`), logger));
    }
  }

  /** Queues a copy of `env` when its client is chosen and it is sampled; never throws, never waits. */
  offer(env: Envelope): void {
    if (!this.chosen(env.source.clientId)) return;
    let line: string;
    try {
      line = this.line(env);
    } catch (err) {
      this.deps.logger.warn({ err, route: this.route }, 'mirror copy not built');
      return;
    }
    for (const sink of this.sinks) sink.push(line);
  }

  /** A switched-on client always; otherwise the configured clients, then the share, then the rate. */
  private chosen(clientId: string): boolean {
    if (this.deps.clients?.has(clientId)) return true;
    if (this.clientIds && !this.clientIds.has(clientId)) return false;
    if (this.sample < 1 && (this.deps.random ?? Math.random)() >= this.sample) return false;
    return this.config.rate === undefined || this.takeToken(this.config.rate);
  }

  /** Token bucket of `rate` tokens per second, holding one second's worth at most. */
  private takeToken(rate: number): boolean {
    const now = this.now();
    this.tokens = Math.min(rate, this.tokens + ((now - this.refilledAt) / 1000) * rate);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private line(env: Envelope): string {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(env.headers)) headers[k] = this.redactHeaders.has(k) ? REDACTED : v;
    return `${JSON.stringify({
      route: this.route,
      id: env.id,
      receivedAt: new Date(env.receivedAt).toISOString(),
      listener: env.listener,
      protocol: env.protocol,
      clientId: env.source.clientId,
      remoteAddress: env.source.remoteAddress,
      ...(env.source.tls && { tls: env.source.tls }),
      address: env.address,
      method: env.method,
      ...(env.contentType !== undefined && { contentType: env.contentType }),
      headers,
      payload: this.payload(env.payload),
    })}\n`;
  }

  /** The payload in base64, `[redacted]` when left out (wholly, or because `redactFields` could not apply). */
  private payload(bytes: Buffer): string {
    if (this.config.redactPayload) return REDACTED;
    if (this.config.redactFields.length === 0) return bytes.toString('base64');
    const redacted = redactJson(bytes, this.config.redactFields, REDACTED);
    return redacted === undefined ? REDACTED : Buffer.from(redacted).toString('base64');
  }
}

/**
 * The decrypted mirror (tap): a copy of a route's messages, sampled,
 * filtered by client id and redacted, appended as JSON lines to a file that
 * rotates by size. It never delays or fails the main path: a copy is queued
 * (bounded) and written later; what does not fit is dropped and counted.
 */
import { appendFile, rename, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Envelope } from '../envelope/index.js';
import type { MirrorConfig } from '../config/types.js';
import type { Metrics } from '../observability/metrics.js';

export interface MirrorDeps {
  readonly baseDir: string;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Injected randomness for sampling (tests). */
  readonly random?: () => number;
}

const REDACTED = '[redacted]';

/** A route's tap: `offer` is synchronous and O(1); writing happens on its own schedule. */
export class Mirror {
  private readonly file: string;
  private queue: string[] = [];
  private writing = false;
  private readonly clientIds: ReadonlySet<string> | undefined;
  private readonly redactHeaders: ReadonlySet<string>;
  private readonly mirrored;
  private readonly dropped;

  constructor(
    private readonly route: string,
    private readonly config: MirrorConfig,
    private readonly deps: MirrorDeps,
  ) {
    this.file = resolve(deps.baseDir, config.file);
    this.clientIds = config.clientIds && new Set(config.clientIds);
    this.redactHeaders = new Set(config.redactHeaders.map((h) => h.toLowerCase()));
    const m = deps.metrics;
    this.mirrored = m.counter('thinggate_guard_mirror_messages_total', 'Messages copied to a route mirror', ['route']).labels({ route });
    this.dropped = m.counter('thinggate_guard_mirror_dropped_total', 'Mirror copies dropped because the mirror queue was full', ['route']).labels({ route });
  }

  /** Queues a copy of `env` when it is sampled and its client chosen; never throws, never waits. */
  offer(env: Envelope): void {
    if (this.clientIds && !this.clientIds.has(env.source.clientId)) return;
    if (this.config.sample < 1 && (this.deps.random ?? Math.random)() >= this.config.sample) return;
    if (this.queue.length >= this.config.queue) {
      this.dropped.inc();
      return;
    }
    this.queue.push(this.line(env));
    if (!this.writing) void this.drain();
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
      payload: this.config.redactPayload ? REDACTED : env.payload.toString('base64'),
    })}\n`;
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.rotateIfFull();
          await appendFile(this.file, batch.join(''));
          this.mirrored.inc(batch.length);
        } catch (err) {
          this.dropped.inc(batch.length);
          this.deps.logger.warn({ err, route: this.route, file: this.file }, 'mirror write failed; copies dropped');
        }
      }
    } finally {
      this.writing = false;
    }
  }

  /** Keeps one previous file (`FILE.1`) once the current one reaches `maxBytes`. */
  private async rotateIfFull(): Promise<void> {
    const size = await stat(this.file).then(
      (s) => s.size,
      () => 0,
    );
    if (size >= this.config.maxBytes) await rename(this.file, `${this.file}.1`);
  }
}

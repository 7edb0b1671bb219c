/**
 * Where a mirror's copies go: a rotating JSON-lines file or a pool that
 * receives them over HTTP. Each destination has its own bounded queue and
 * writes on its own schedule, so a slow or failing one never holds back the
 * other, nor the main path: what does not fit or cannot be written is
 * dropped and counted.
 */
import { appendFile, rename, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { UpstreamRequest, UpstreamResult } from '../balancer/types.js';

/** The two counters of one destination. */
export interface SinkCounters {
  /** Copies the destination took. */
  readonly mirrored: { inc(n?: number): void };
  /** Copies dropped: queue full, or the write failed. */
  readonly dropped: { inc(n?: number): void };
}

/** A destination's bounded queue of JSON lines and its writing loop (one write at a time). */
export abstract class MirrorSink {
  private queue: string[] = [];
  private writing = false;
  private failing = false;

  protected constructor(
    /** `file` or `pool:<name>`, the metrics' `destination` label. */
    readonly destination: string,
    private readonly limit: number,
    private readonly counters: SinkCounters,
    private readonly logger: Logger,
  ) {}

  /** Queues one line; never waits. */
  push(line: string): void {
    if (this.queue.length >= this.limit) {
      this.counters.dropped.inc();
      return;
    }
    this.queue.push(line);
    if (!this.writing) void this.drain();
  }

  /** Takes up to `max` queued lines. */
  protected take(max: number): string[] {
    if (this.queue.length <= max) {
      const all = this.queue;
      this.queue = [];
      return all;
    }
    return this.queue.splice(0, max);
  }

  /** How many lines one write takes at most. */
  protected abstract readonly batchSize: number;
  protected abstract write(lines: readonly string[]): Promise<void>;

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.take(this.batchSize);
        try {
          await this.write(batch);
          this.counters.mirrored.inc(batch.length);
          if (this.failing) this.logger.info({ destination: this.destination }, 'mirror destination takes copies again');
          this.failing = false;
        } catch (err) {
          this.counters.dropped.inc(batch.length);
          // One warning per failing streak: a dead destination must not flood the log.
          if (!this.failing) this.logger.warn({ err, destination: this.destination }, 'mirror write failed; copies dropped until it recovers');
          this.failing = true;
        }
      }
    } finally {
      this.writing = false;
    }
  }
}

/** Appends to a file; keeps one previous file (`FILE.1`) once the current one reaches `maxBytes`. */
export class FileSink extends MirrorSink {
  protected readonly batchSize = Number.MAX_SAFE_INTEGER;

  constructor(
    private readonly file: string,
    private readonly maxBytes: number,
    queue: number,
    counters: SinkCounters,
    logger: Logger,
  ) {
    super('file', queue, counters, logger.child({ file }));
  }

  protected async write(lines: readonly string[]): Promise<void> {
    const size = await stat(this.file).then(
      (s) => s.size,
      () => 0,
    );
    if (size >= this.maxBytes) await rename(this.file, `${this.file}.1`);
    await appendFile(this.file, lines.join(''));
  }
}

export interface PoolSinkOptions {
  readonly route: string;
  readonly pool: string;
  readonly path: string;
  readonly batch: number;
  readonly queue: number;
  /** The balancer's dispatch; never rejects. */
  readonly dispatch: (request: UpstreamRequest) => Promise<UpstreamResult>;
}

/** POSTs batches of JSON lines (`application/x-ndjson`) to a pool; anything but a 2xx drops the batch. */
export class PoolSink extends MirrorSink {
  protected readonly batchSize: number;
  private sent = 0;

  constructor(
    private readonly options: PoolSinkOptions,
    counters: SinkCounters,
    logger: Logger,
  ) {
    super(`pool:${options.pool}`, options.queue, counters, logger);
    this.batchSize = options.batch;
  }

  protected async write(lines: readonly string[]): Promise<void> {
    const { route, pool, path } = this.options;
    const result = await this.options.dispatch({
      pool,
      method: 'POST',
      path,
      headers: { 'content-type': 'application/x-ndjson', 'x-thinggate-mirror': route },
      body: Buffer.from(lines.join('')),
      idempotencyKey: `mirror-${route}-${Date.now().toString(36)}-${(this.sent++).toString(36)}`,
      key: route,
      // Copies are best effort: they never take space on a durable spool meant for devices' messages.
      spool: false,
    });
    if (result.kind === 'spooled') return;
    if (result.kind === 'unavailable') throw new Error(`${result.code}: ${result.reason}`);
    if (result.status < 200 || result.status > 299) throw new Error(`mirror pool '${pool}' answered ${result.status}`);
  }
}

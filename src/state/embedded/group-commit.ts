/**
 * Group commit for a LevelDB store: the operations that arrive in one turn
 * of the event loop, or while the previous batch is being written, go to
 * disk together in the next batch, so a burst costs one write (and at most
 * one fsync) instead of one per operation. Batches are written in the order
 * their operations arrived.
 *
 * A batch is atomic, so only the last operation on each key within it
 * matters: a key changed several times before its batch starts is written
 * once. Until then {@link GroupCommit.pending} answers what the key will
 * hold, so readers see a change before it reaches disk.
 *
 * Two kinds of writes: `write()` waits for its batch (the caller answers
 * only once it is on disk); `queue()` does not (a lost one must be
 * tolerable, and its failure reaches `onWriteError`).
 */
import type { ClassicLevel } from 'classic-level';

export type Op = { readonly type: 'put'; readonly key: string; readonly value: string } | { readonly type: 'del'; readonly key: string };

/**
 * When a batch is fsync'd: `always`; `waited`, only when a `write()` waits
 * for it (an fsync'd batch makes the earlier ones durable too, so queued
 * operations reach durability with the next waited one); `never`.
 */
export type SyncPolicy = 'always' | 'waited' | 'never';

export interface GroupCommitOptions {
  readonly sync: SyncPolicy;
  /** A batch failed: its waiting writes reject; its queued operations are lost. */
  readonly onWriteError?: (err: Error) => void;
}

export class GroupCommit {
  /** The next batch: the last operation per key. */
  private queued = new Map<string, Op>();
  /** The batch being written. */
  private writing = new Map<string, Op>();
  private waiters: Array<(err?: Error) => void> = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: ClassicLevel<string, string>,
    private readonly options: GroupCommitOptions,
  ) {}

  /** Adds `ops` to the next batch without waiting for it. */
  queue(ops: readonly Op[]): void {
    for (const op of ops) this.queued.set(op.key, op);
    if (ops.length > 0) this.running ??= this.run();
  }

  /** Resolves once `ops`, and everything queued before them, are written (fsync'd unless the policy is `never`). */
  write(ops: readonly Op[]): Promise<void> {
    return new Promise((resolve, reject) => {
      for (const op of ops) this.queued.set(op.key, op);
      this.waiters.push((err) => (err ? reject(err) : resolve()));
      this.running ??= this.run();
    });
  }

  /** The operation on `key` not yet on disk (queued, else being written), if any. */
  pending(key: string): Op | undefined {
    return this.queued.get(key) ?? this.writing.get(key);
  }

  /** Resolves once every operation asked for so far is written. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Closes the database once the writes asked for so far, and those of this turn of the event loop, are done. */
  async close(): Promise<void> {
    // Sessions parked by connections closing right now ask for their writes in this turn.
    await new Promise((r) => setImmediate(r));
    await this.idle();
    if (this.db.status === 'open') await this.db.close();
  }

  private async run(): Promise<void> {
    // The writes of this turn of the event loop join the first batch.
    await new Promise((r) => setImmediate(r));
    try {
      while (this.queued.size > 0 || this.waiters.length > 0) {
        this.writing = this.queued;
        this.queued = new Map();
        const waiters = this.waiters;
        this.waiters = [];
        let error: Error | undefined;
        try {
          const sync = this.options.sync === 'always' || (this.options.sync === 'waited' && waiters.length > 0);
          if (this.writing.size > 0) await this.db.batch([...this.writing.values()] as Op[], { sync });
        } catch (err) {
          error = err as Error;
        }
        this.writing = new Map();
        if (error) this.options.onWriteError?.(error);
        for (const w of waiters) w(error);
      }
    } finally {
      this.running = undefined;
    }
  }
}

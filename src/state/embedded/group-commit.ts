/**
 * Group commit for a LevelDB store: writes that arrive while a batch is
 * being written wait and go together in the next one, so a burst costs one
 * write (and one fsync when `sync`) instead of one per operation. Batches
 * are written in the order their operations arrived.
 */
import type { ClassicLevel } from 'classic-level';

export type Op = { readonly type: 'put'; readonly key: string; readonly value: string } | { readonly type: 'del'; readonly key: string };

export class GroupCommit {
  private group: Array<{ readonly ops: readonly Op[]; readonly done: (err?: Error) => void }> = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly db: ClassicLevel<string, string>,
    private readonly sync: boolean,
  ) {}

  /** Resolves once `ops` are written (with the batch they joined). */
  write(ops: readonly Op[]): Promise<void> {
    if (ops.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.group.push({ ops, done: (err) => (err ? reject(err) : resolve()) });
      this.running ??= this.run();
    });
  }

  /** Resolves once every write asked for so far is done. */
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
    // Let the writes of this turn of the event loop join the first batch.
    await Promise.resolve();
    try {
      while (this.group.length > 0) {
        const group = this.group;
        this.group = [];
        try {
          await this.db.batch(
            group.flatMap((g) => g.ops as Op[]),
            { sync: this.sync },
          );
          for (const g of group) g.done();
        } catch (err) {
          for (const g of group) g.done(err as Error);
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}

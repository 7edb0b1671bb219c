/**
 * The durable spool's storage: one LevelDB database (classic-level) per
 * directory, shared by every pool object that names it in this process. A
 * configuration reload builds the new pools while the old ones drain, and
 * LevelDB allows one opener per directory, so the handle is reference
 * counted; the newest attached spool delivers, the others only drain.
 *
 * Writes are group-committed: the puts that arrive while one fsync'ed batch
 * is being written go together in the next, so acknowledging "on disk"
 * costs one fsync per group, not one per message.
 */
import { ClassicLevel } from 'classic-level';
import { randomBytes } from 'node:crypto';

interface PendingWrite {
  readonly key: string;
  readonly value: string;
  readonly resolve: (err?: Error) => void;
}

/** A spooled request as stored: JSON with the body in base64. */
export interface StoredRequest {
  readonly pool: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly idempotencyKey: string;
  readonly key: string;
  readonly expiresAt?: number;
  readonly spooledAt: number;
}

const stores = new Map<string, SpoolStore>();
const suffix = randomBytes(4).toString('hex');
let seq = 0;

export class SpoolStore {
  readonly db: ClassicLevel<string, string>;
  readonly ready: Promise<void>;
  /** Entries on disk (after `ready`). */
  count = 0;
  /** Keys being delivered now, by any attached spool. */
  readonly delivering = new Set<string>();
  /** The attached spool that delivers (the newest). */
  owner: object | undefined;
  openError: Error | undefined;
  private refs = 0;
  private queue: PendingWrite[] = [];
  private writing = false;

  private constructor(readonly directory: string) {
    this.db = new ClassicLevel<string, string>(directory, { valueEncoding: 'utf8', keyEncoding: 'utf8' });
    this.ready = this.open();
  }

  /** Attaches to the store of `directory`, opening it on first use. */
  static attach(directory: string, owner: object): SpoolStore {
    let s = stores.get(directory);
    if (!s) stores.set(directory, (s = new SpoolStore(directory)));
    s.refs++;
    s.owner = owner;
    return s;
  }

  /** Detaches; the last one out closes the database. */
  async detach(owner: object): Promise<void> {
    if (this.owner === owner) this.owner = undefined;
    if (--this.refs > 0) return;
    stores.delete(this.directory);
    await this.ready;
    while (this.writing) await new Promise((r) => setImmediate(r));
    if (this.db.status === 'open') await this.db.close();
  }

  /** Stores `value` under a new time-ordered key; resolves once it is on disk. */
  append(value: StoredRequest): Promise<void> {
    const key = `${value.spooledAt.toString(36).padStart(10, '0')}-${(seq++ % 0x7fffffff).toString(36).padStart(6, '0')}-${suffix}`;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ key, value: JSON.stringify(value), resolve: (err) => (err ? reject(err) : resolve()) });
      if (!this.writing) void this.flush();
    });
  }

  /** Oldest entries not being delivered, up to `limit`. */
  async oldest(limit: number): Promise<Array<[string, StoredRequest]>> {
    const out: Array<[string, StoredRequest]> = [];
    for await (const [k, v] of this.db.iterator({ limit: limit + this.delivering.size })) {
      if (this.delivering.has(k)) continue;
      try {
        out.push([k, JSON.parse(v) as StoredRequest]);
      } catch {
        // An entry that does not parse cannot be delivered; remove it rather than block the spool.
        await this.remove(k);
      }
      if (out.length >= limit) break;
    }
    return out;
  }

  async remove(key: string): Promise<void> {
    await this.db.del(key);
    this.count = Math.max(0, this.count - 1);
  }

  private async open(): Promise<void> {
    try {
      await this.db.open({ createIfMissing: true });
      let n = 0;
      for await (const _ of this.db.keys()) n++;
      this.count = n;
    } catch (err) {
      this.openError = err as Error;
    }
  }

  private async flush(): Promise<void> {
    this.writing = true;
    try {
      await this.ready;
      while (this.queue.length > 0) {
        const group = this.queue;
        this.queue = [];
        try {
          if (this.openError) throw this.openError;
          await this.db.batch(
            group.map((w) => ({ type: 'put' as const, key: w.key, value: w.value })),
            { sync: true },
          );
          this.count += group.length;
          for (const w of group) w.resolve();
        } catch (err) {
          for (const w of group) w.resolve(err as Error);
        }
      }
    } finally {
      this.writing = false;
    }
  }
}

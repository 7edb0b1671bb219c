/**
 * `ctx.state`: a per-script key/value store kept in the script's thread
 * beside (not inside) its isolates, so it survives hot reloads and isolate
 * rebuilds. Values are JSON text; the store is bounded
 * in entries and bytes, and when full it forgets its oldest writes first
 * (a re-written key counts as new), which suits de-duplication windows.
 *
 * Shared (`shared` in its limits; the redis backend): the store is this
 * node's replica of state every node writes. Reads stay local. The script's
 * writes apply here at once and are handed on (`onChanges`, once per turn)
 * for the gateway to store and announce; announced changes come back through
 * {@link apply}. A key this replica has written and not yet seen announced
 * keeps its own value (the announcement of its write comes later in the one
 * order every node hears, and wins), so a script reads its own writes and
 * every replica ends where the shared store is.
 */

export interface StateLimits {
  readonly maxEntries: number;
  readonly maxBytes: number;
  /** Replicate through the gateway (see above). */
  readonly shared?: boolean;
}

/** Changes for the gateway to pass on: writes (`null` deletes) and entries this replica dropped to stay in bounds. */
export type StateChanges = (writes: Array<[string, string | null]>, evicted: Array<[string, string]>) => void;

export class StateStore {
  private readonly map = new Map<string, string>();
  private bytes = 0;
  /** Shared: this turn's writes, last value per key, not yet handed on. */
  private outbox = new Map<string, string | null>();
  private evicted: Array<[string, string]> = [];
  /** Shared: per key, batches handed on and not yet acknowledged ({@link ack}). */
  private readonly pending = new Map<string, number>();
  private flushQueued = false;

  constructor(
    private limits: StateLimits,
    private readonly onChanges?: StateChanges,
  ) {}

  /** New bounds apply from the next write (a reload may change them). */
  configure(limits: StateLimits): void {
    this.limits = limits;
    this.evict();
  }

  get size(): number {
    return this.map.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  get(key: string): string | undefined {
    return this.map.get(key);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Returns an error text when the entry alone exceeds the byte bound. */
  set(key: string, json: string): string | undefined {
    const cost = entryBytes(key, json);
    if (cost > this.limits.maxBytes) return `state entry '${key.slice(0, 64)}' is ${cost} bytes; the limit is ${this.limits.maxBytes}`;
    this.put(key, json, cost);
    this.written(key, json);
    return undefined;
  }

  delete(key: string): boolean {
    // Shared: deleted everywhere, even when this replica had already dropped it.
    this.written(key, null);
    return this.remove(key);
  }

  /** Shared: changes announced by any node, in order; keys this replica has writes in flight for keep its value. */
  apply(changes: ReadonlyArray<readonly [string, string | null]>): void {
    for (const [key, value] of changes) {
      if (this.mine(key)) continue;
      if (value === null) this.remove(key);
      else this.adopt(key, value);
    }
  }

  /** Shared: the announcements of this replica's own writes to these keys arrived (or the writes failed); one per batch handed on. */
  ack(keys: readonly string[]): void {
    for (const key of keys) {
      const n = (this.pending.get(key) ?? 0) - 1;
      if (n > 0) this.pending.set(key, n);
      else this.pending.delete(key);
    }
  }

  /**
   * Shared: the stored entries (at start, after the store was unreachable,
   * or after the thread was replaced). They replace this replica's, except
   * keys it has writes in flight for and `keep` (changed by announcements
   * heard since the load was asked for, which are newer).
   */
  load(entries: ReadonlyArray<readonly [string, string]>, keep: readonly string[]): void {
    const skip = new Set(keep);
    const stored = new Set<string>();
    for (const [key] of entries) stored.add(key);
    for (const key of [...this.map.keys()]) if (!stored.has(key) && !skip.has(key) && !this.mine(key)) this.remove(key);
    for (const [key, value] of entries) if (!skip.has(key) && !this.mine(key)) this.adopt(key, value);
  }

  /** Dispatches one call from the isolate (see isolate/prelude.js). */
  call(op: string, key?: string, value?: string): string | number | boolean | undefined {
    switch (op) {
      case 'get':
        return this.get(String(key));
      case 'has':
        return this.has(String(key));
      case 'set':
        return this.set(String(key), String(value));
      case 'delete':
        return this.delete(String(key));
      case 'size':
        return this.size;
      default:
        return undefined;
    }
  }

  private get shared(): boolean {
    return this.limits.shared === true && this.onChanges !== undefined;
  }

  /** Whether this replica has a write to `key` not yet acknowledged. */
  private mine(key: string): boolean {
    return this.outbox.has(key) || this.pending.has(key);
  }

  /** An entry from another node; one too large for this replica's bounds is left out. */
  private adopt(key: string, json: string): void {
    const cost = entryBytes(key, json);
    if (cost > this.limits.maxBytes) this.remove(key);
    else this.put(key, json, cost);
  }

  private put(key: string, json: string, cost: number): void {
    this.remove(key);
    this.map.set(key, json);
    this.bytes += cost;
    this.evict();
  }

  private remove(key: string): boolean {
    const old = this.map.get(key);
    if (old === undefined) return false;
    this.map.delete(key);
    this.bytes -= entryBytes(key, old);
    return true;
  }

  private written(key: string, json: string | null): void {
    if (!this.shared) return;
    this.outbox.delete(key); // re-inserted last: the batch keeps the order of last writes
    this.outbox.set(key, json);
    this.queueFlush();
  }

  private evict(): void {
    for (const [k, v] of this.map) {
      if (this.map.size <= this.limits.maxEntries && this.bytes <= this.limits.maxBytes) break;
      this.remove(k);
      if (this.shared && !this.mine(k)) {
        this.evicted.push([k, v]);
        this.queueFlush();
      }
    }
  }

  /** After the current call: a batch of messages writes once per turn, not once per `set`. */
  private queueFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(this.flush);
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    const writes = [...this.outbox];
    const evicted = this.evicted;
    this.outbox = new Map();
    this.evicted = [];
    for (const [key] of writes) this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    if (writes.length > 0 || evicted.length > 0) this.onChanges?.(writes, evicted);
  };
}

/** UTF-16 code units × 2 is an upper bound close enough for a budget, and cheap. */
function entryBytes(key: string, json: string): number {
  return (key.length + json.length) * 2;
}

/**
 * The main thread's side of shared `ctx.state` (the redis backend): each
 * script's replica lives in its script thread (state-store.ts); this passes
 * the replica's writes to the shared store, hands it the changes other nodes
 * announce, acknowledges its own writes when their announcement comes back
 * (or when they fail), and has it load the stored entries when it joins,
 * when its thread is replaced, and when the store is back after an outage.
 */
import type { Logger } from 'pino';
import type { ScriptStateAnnouncement, ScriptStateChange, ScriptStateStore } from '../state/index.js';

/** A script's replica, in its thread. */
export interface Replica {
  apply(changes: readonly ScriptStateChange[]): void;
  ack(keys: readonly string[]): void;
  load(entries: ReadonlyArray<readonly [string, string]>, keep: readonly string[]): void;
}

/** A joined script's side: what its unit calls. */
export interface SharedReplica {
  /** The replica's writes (`null` deletes) and the entries it dropped under its bounds. */
  write(writes: readonly ScriptStateChange[], evicted: ReadonlyArray<readonly [string, string]>): void;
  /** The replica starts over (its thread was replaced): it loads the stored entries again. */
  reload(): void;
  leave(): void;
}

interface Joined {
  readonly replica: Replica;
  /** Own batches written and not yet heard announced: seq → their keys. */
  readonly outstanding: Map<number, string[]>;
  /** While a load is in flight: keys changed by announcements since it was asked for. */
  loading: Set<string> | undefined;
  /** Counts loads; only the latest one's entries are handed over. */
  loads: number;
}

export class SharedScriptState {
  private readonly scripts = new Map<string, Joined>();
  private seq = 0;
  private readonly listening: Promise<void>;

  constructor(
    private readonly store: ScriptStateStore,
    private readonly logger: Logger,
  ) {
    this.listening = store.listen({ changed: (a) => this.changed(a), resync: () => this.resync() }).catch((err: unknown) => {
      this.logger.warn({ err }, 'shared ctx.state: could not listen for changes; replicas stay local until the store is back');
    });
  }

  /** A script's replica joins and loads the stored entries. */
  join(script: string, replica: Replica): SharedReplica {
    const joined: Joined = { replica, outstanding: new Map(), loading: undefined, loads: 0 };
    this.scripts.set(script, joined);
    void this.load(script, joined);
    return {
      write: (writes, evicted) => this.write(script, joined, writes, evicted),
      reload: () => void this.load(script, joined),
      leave: () => {
        if (this.scripts.get(script) === joined) this.scripts.delete(script);
      },
    };
  }

  private write(script: string, joined: Joined, writes: readonly ScriptStateChange[], evicted: ReadonlyArray<readonly [string, string]>): void {
    if (writes.length > 0) {
      const seq = ++this.seq;
      const keys = writes.map(([k]) => k);
      joined.outstanding.set(seq, keys);
      const settle = (ok: boolean): void => {
        // Not stored: the replica keeps its value, and stops waiting for the announcement.
        if (!ok && joined.outstanding.delete(seq)) joined.replica.ack(keys);
      };
      this.store.write({ script, seq, changes: writes }).then(settle, () => settle(false));
    }
    if (evicted.length > 0) {
      this.store.evict(script, evicted).catch((err: unknown) => this.logger.warn({ err, script }, 'shared ctx.state: dropping entries from the store failed'));
    }
  }

  private changed(a: ScriptStateAnnouncement): void {
    const joined = this.scripts.get(a.script);
    if (!joined) return;
    if (a.node === this.store.nodeId) {
      const keys = joined.outstanding.get(a.seq);
      if (keys) {
        // The replica already holds these values (or newer writes of its own).
        joined.outstanding.delete(a.seq);
        joined.replica.ack(keys);
        return;
      }
      // A write this replica stopped waiting for (a reload came between): applied like another node's.
    }
    if (joined.loading) for (const [k] of a.changes) joined.loading.add(k);
    joined.replica.apply(a.changes);
  }

  /** The store is back after an outage: announcements may have been lost, so every replica loads again. */
  private resync(): void {
    for (const [script, joined] of this.scripts) void this.load(script, joined);
  }

  private async load(script: string, joined: Joined): Promise<void> {
    // Writes still waiting for their announcement may never hear it (the store went away): stop waiting; the load settles them.
    for (const keys of joined.outstanding.values()) joined.replica.ack(keys);
    joined.outstanding.clear();
    const load = ++joined.loads;
    joined.loading ??= new Set();
    await this.listening;
    let entries: Array<[string, string]>;
    try {
      entries = await this.store.load(script);
    } catch (err) {
      if (load === joined.loads) joined.loading = undefined;
      this.logger.warn({ err, script }, 'shared ctx.state: loading the stored entries failed; the replica keeps what it has until the store is back');
      return;
    }
    if (load !== joined.loads || this.scripts.get(script) !== joined) return;
    const keep = [...(joined.loading ?? [])];
    joined.loading = undefined;
    joined.replica.load(entries, keep);
  }
}

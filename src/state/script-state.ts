/**
 * Script `ctx.state` shared between nodes: each node keeps a replica in its
 * script thread (reads stay local and synchronous) and hands its writes to
 * this store, which keeps them and announces each batch to every node, the
 * writer included, in one order: the order the store applied them. A node
 * that applies the announcements it receives (skipping keys it has written
 * and not yet seen announced) converges on the stored state, last writer
 * wins. A node starting, or back after the store was unreachable, loads the
 * stored entries.
 */

/** One change: a key set to JSON text, or deleted (null). */
export type ScriptStateChange = readonly [key: string, value: string | null];

/** A node's changes to one script's state, as written and as announced. */
export interface ScriptStateBatch {
  /** The script's name as written in routes (the same on every node). */
  readonly script: string;
  /** Numbers the writer's batches, so it recognises its own announcements. */
  readonly seq: number;
  readonly changes: readonly ScriptStateChange[];
}

export interface ScriptStateAnnouncement extends ScriptStateBatch {
  /** The node that wrote it. */
  readonly node: string;
}

export interface ScriptStateListener {
  /** A batch written by any node (this one included), in the store's order. */
  changed(batch: ScriptStateAnnouncement): void;
  /** The store is reachable again after an outage: announcements may have been missed, so replicas reload. */
  resync(): void;
}

export interface ScriptStateStore {
  readonly nodeId: string;
  /** Every stored entry of one script, `[key, JSON text]`; rejects when the store is unreachable. */
  load(script: string): Promise<Array<[string, string]>>;
  /** Stores a batch and announces it; resolves false when the store did not take it (unreachable). */
  write(batch: ScriptStateBatch): Promise<boolean>;
  /** Deletes each key that still holds the given value (a node dropping its oldest entries under its bounds); not announced. */
  evict(script: string, entries: ReadonlyArray<readonly [string, string]>): Promise<void>;
  /** Registers the listener (one per node: a later call replaces it); resolves once it listens. */
  listen(listener: ScriptStateListener): Promise<void>;
  close(): Promise<void>;
}

/**
 * The durable embedded session store: the in-memory store
 * (sessions.ts) for every read, written through to a LevelDB database
 * (classic-level) so that sessions, their subscriptions and their queued
 * messages survive a restart, `kill -9` included. Keys:
 *   s␀<clientId>          → the session without its messages (JSON)
 *   p␀<clientId>␀<seq>    → one pending message, in order (JSON, the message by the caller's codec)
 * Writes are group-committed (group-commit.ts): an operation resolves once
 * its batch is written, so an `enqueue` that answered 'queued' is on disk.
 * The memory changes at once, in call order; the batches follow that order.
 *
 * A session a connection holds (`hold`, `update`) is written through under
 * the same keys, its session record marked by `expirySeconds` instead of
 * `expiresAt`. Its changes wait in `live`, the last one per key, while the
 * previous batch of them is being written: a message owed and acknowledged
 * within that time is never written nor encoded, so a connection's traffic
 * costs one batch per disk write, not one write per message. Any other
 * write first hands `live` over, so the batches keep the call order.
 */
import { ClassicLevel } from 'classic-level';
import type { MessageCodec } from '../codec.js';
import { decodePending, encodePending } from '../pending-codec.js';
import {
  storedFromHeld,
  type DueWill,
  type EnqueueResult,
  type HeldSession,
  type PendingMessage,
  type QueueLimits,
  type SessionChange,
  type SessionStore,
  type StoredSession,
  type StoredWill,
} from '../sessions.js';
import { GroupCommit, type Op } from './group-commit.js';
import { MemorySessionStore } from './sessions.js';

const SEP = '\u0000';
const sessionKey = (clientId: string): string => `s${SEP}${clientId}`;
const pendingPrefix = (clientId: string): string => `p${SEP}${clientId}${SEP}`;
const after = (prefix: string): string => `${prefix}\uffff`;

export interface DurableSessionOptions {
  /** fsync each batch (survives a host crash, not only a process crash). */
  readonly sync?: boolean;
}

/** A session held by a connection: its record, and its messages' keys and messages by the connection's numbers. */
interface Held<M> {
  meta: HeldSession;
  readonly keys: Map<number, string>;
  readonly pending: Map<number, PendingMessage<M>>;
}

/** A held session's change not yet handed to the group commit (a message is encoded when handed over). */
type LiveOp<M> = { readonly put: string } | { readonly message: PendingMessage<M> } | { readonly del: true };

export class DurableSessionStore<M> implements SessionStore<M> {
  private readonly db: ClassicLevel<string, string>;
  private readonly memory = new MemorySessionStore<M>();
  /** The keys of each stored session's pending messages, in order. */
  private readonly keys = new Map<string, string[]>();
  private readonly held = new Map<string, Held<M>>();
  /** Held sessions' changes waiting for the batch being written, the last per key. */
  private live = new Map<string, LiveOp<M>>();
  /** Keys in `live` put since they were last handed over: never written, so a deletion just drops them. */
  private fresh = new Set<string>();
  private liveWaiters: Array<(err?: Error) => void> = [];
  private liveRunning: Promise<void> | undefined;
  private readonly writes: GroupCommit;
  private seq = 0;

  constructor(
    readonly directory: string,
    private readonly codec: MessageCodec<M>,
    options: DurableSessionOptions = {},
  ) {
    this.db = new ClassicLevel<string, string>(directory, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    this.writes = new GroupCommit(this.db, { sync: (options.sync ?? true) ? 'always' : 'never' });
  }

  async open(): Promise<void> {
    await this.db.open({ createIfMissing: true });
    const sessions = new Map<string, StoredSession<M>>();
    const pending = new Map<string, Array<PendingMessage<M>>>();
    const junk: Op[] = [];
    const now = Date.now();
    for await (const [k, v] of this.db.iterator({ gte: `s${SEP}`, lt: after(`s${SEP}`) })) {
      const s = parse<StoredSession<M> & Partial<HeldSession>>(v);
      if (!s) {
        junk.push({ type: 'del', key: k });
        continue;
      }
      if (typeof s.expirySeconds === 'number') {
        // Held by a connection of a process that stopped without parking it (killed): it expires, and its Will is due, from now.
        const stored = storedFromHeld(s, now);
        junk.push({ type: 'put', key: k, value: JSON.stringify(stored) });
        sessions.set(s.clientId, stored);
      } else sessions.set(s.clientId, s);
    }
    for await (const [k, v] of this.db.iterator({ gte: `p${SEP}`, lt: after(`p${SEP}`) })) {
      const clientId = k.slice(2, k.lastIndexOf(SEP));
      const seq = Number.parseInt(k.slice(k.lastIndexOf(SEP) + 1), 36);
      if (seq > this.seq) this.seq = seq;
      const p = decodePending(this.codec, v);
      if (!sessions.has(clientId) || !p) {
        junk.push({ type: 'del', key: k }); // a message of a session that is gone (its removal was cut short), or unreadable
        continue;
      }
      let list = pending.get(clientId);
      if (!list) pending.set(clientId, (list = []));
      list.push(p);
      let keys = this.keys.get(clientId);
      if (!keys) this.keys.set(clientId, (keys = []));
      keys.push(k);
    }
    for (const s of sessions.values()) await this.memory.save({ ...s, pending: pending.get(s.clientId) ?? [] });
    await this.writes.write(junk);
  }

  async list(): Promise<Array<Omit<StoredSession<M>, 'pending'>>> {
    return this.memory.sessionsWithoutMessages();
  }

  async save(session: StoredSession<M>): Promise<void> {
    this.handOverLive();
    await this.memory.save(session);
    const ops: Op[] = this.forget(session.clientId);
    const { pending, ...rest } = session;
    ops.push({ type: 'put', key: sessionKey(session.clientId), value: JSON.stringify(rest) });
    const keys: string[] = [];
    for (const p of pending) {
      const key = this.nextKey(session.clientId);
      keys.push(key);
      ops.push({ type: 'put', key, value: encodePending(this.codec, p) });
    }
    this.keys.set(session.clientId, keys);
    await this.writes.write(ops);
  }

  async take(clientId: string): Promise<StoredSession<M> | undefined> {
    this.handOverLive();
    const h = this.held.get(clientId);
    let s: StoredSession<M> | undefined;
    if (h) {
      s = { ...storedFromHeld(h.meta, Date.now()), pending: [...h.pending.values()] };
    } else s = await this.memory.take(clientId);
    if (s) await this.writes.write(this.forget(clientId));
    return s;
  }

  async hold(session: HeldSession): Promise<void> {
    this.handOverLive();
    await this.memory.take(session.clientId);
    const ops = this.forget(session.clientId);
    this.held.set(session.clientId, { meta: session, keys: new Map(), pending: new Map() });
    ops.push({ type: 'put', key: sessionKey(session.clientId), value: JSON.stringify(session) });
    await this.writes.write(ops);
  }

  update(clientId: string, change: SessionChange<M>): Promise<void> {
    const h = this.held.get(clientId);
    if (!h) return Promise.resolve();
    if (change.subscriptions) {
      h.meta = { ...h.meta, subscriptions: change.subscriptions };
      this.live.set(sessionKey(clientId), { put: JSON.stringify(h.meta) });
    }
    for (const [n, message] of change.put ?? []) {
      let key = h.keys.get(n);
      if (key === undefined) {
        h.keys.set(n, (key = this.nextKey(clientId)));
        this.fresh.add(key);
      }
      h.pending.set(n, message);
      this.live.set(key, { message });
    }
    for (const n of change.del ?? []) {
      const key = h.keys.get(n);
      if (key === undefined) continue;
      h.keys.delete(n);
      h.pending.delete(n);
      if (this.fresh.delete(key)) this.live.delete(key);
      else this.live.set(key, { del: true });
    }
    return new Promise((resolve, reject) => {
      this.liveWaiters.push((err) => (err ? reject(err) : resolve()));
      this.liveRunning ??= this.runLive();
    });
  }

  async clearWill(clientId: string): Promise<void> {
    const meta = this.memory.dropWill(clientId);
    if (meta) await this.writes.write([{ type: 'put', key: sessionKey(clientId), value: JSON.stringify(meta) }]);
  }

  async claimWill(clientId: string): Promise<StoredWill | undefined> {
    this.handOverLive();
    const will = await this.memory.claimWill(clientId);
    if (will) await this.clearWill(clientId);
    return will;
  }

  async claimDueWills(now: number): Promise<DueWill[]> {
    this.handOverLive();
    const due = await this.memory.claimDueWills(now);
    for (const d of due) await this.clearWill(d.clientId);
    return due;
  }

  async enqueue(clientId: string, message: PendingMessage<M>, limits: QueueLimits): Promise<EnqueueResult> {
    const r = await this.memory.enqueue(clientId, message, limits);
    if (r !== 'queued') return r;
    const key = this.nextKey(clientId);
    this.keys.get(clientId)?.push(key);
    await this.writes.write([{ type: 'put', key, value: encodePending(this.codec, message) }]);
    return r;
  }

  async expire(now: number): Promise<Array<StoredSession<M>>> {
    const gone = await this.memory.expire(now);
    await this.writes.write(gone.flatMap((s) => this.forget(s.clientId)));
    return gone;
  }

  count(): Promise<number> {
    return this.memory.count();
  }

  async close(): Promise<void> {
    this.handOverLive();
    await this.writes.close();
    await this.memory.close();
  }

  /** The deletions of a session's records (stored or held); it is no longer tracked. */
  private forget(clientId: string): Op[] {
    const keys = [...(this.keys.get(clientId) ?? []), ...(this.held.get(clientId)?.keys.values() ?? [])];
    const ops: Op[] = keys.map((key) => ({ type: 'del', key }));
    ops.push({ type: 'del', key: sessionKey(clientId) });
    this.keys.delete(clientId);
    this.held.delete(clientId);
    return ops;
  }

  /** Writes held sessions' changes, one batch at a time: those arriving meanwhile join the next. */
  private async runLive(): Promise<void> {
    // The changes of this turn of the event loop go together.
    await new Promise((r) => setImmediate(r));
    try {
      while (this.liveWaiters.length > 0) await this.handOverLive();
    } finally {
      this.liveRunning = undefined;
    }
  }

  /** Hands held sessions' waiting changes to the group commit now (before any other write, to keep the order). */
  private handOverLive(): Promise<void> {
    const waiters = this.liveWaiters;
    if (waiters.length === 0 && this.live.size === 0) return Promise.resolve();
    const ops: Op[] = [];
    for (const [key, op] of this.live) {
      if ('del' in op) ops.push({ type: 'del', key });
      else ops.push({ type: 'put', key, value: 'put' in op ? op.put : encodePending(this.codec, op.message) });
    }
    this.live = new Map();
    this.fresh.clear();
    this.liveWaiters = [];
    return this.writes.write(ops).then(
      () => {
        for (const w of waiters) w();
      },
      (err: unknown) => {
        for (const w of waiters) w(err as Error);
      },
    );
  }

  private nextKey(clientId: string): string {
    return `${pendingPrefix(clientId)}${(++this.seq).toString(36).padStart(11, '0')}`;
  }
}

function parse<T>(v: string): T | undefined {
  try {
    return JSON.parse(v) as T;
  } catch {
    return undefined;
  }
}

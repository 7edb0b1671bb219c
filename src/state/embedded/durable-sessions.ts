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
 */
import { ClassicLevel } from 'classic-level';
import type { MessageCodec } from '../codec.js';
import { decodePending, encodePending } from '../pending-codec.js';
import type { EnqueueResult, PendingMessage, QueueLimits, SessionStore, StoredSession } from '../sessions.js';
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

export class DurableSessionStore<M> implements SessionStore<M> {
  private readonly db: ClassicLevel<string, string>;
  private readonly memory = new MemorySessionStore<M>();
  /** The keys of each stored session's pending messages, in order. */
  private readonly keys = new Map<string, string[]>();
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
    for await (const [k, v] of this.db.iterator({ gte: `s${SEP}`, lt: after(`s${SEP}`) })) {
      const s = parse<StoredSession<M>>(v);
      if (s) sessions.set(s.clientId, s);
      else junk.push({ type: 'del', key: k });
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
    const s = await this.memory.take(clientId);
    if (s) await this.writes.write(this.forget(clientId));
    return s;
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
    await this.writes.close();
    await this.memory.close();
  }

  /** The deletions of a session's records; it is no longer tracked. */
  private forget(clientId: string): Op[] {
    const ops: Op[] = (this.keys.get(clientId) ?? []).map((key) => ({ type: 'del', key }));
    ops.push({ type: 'del', key: sessionKey(clientId) });
    this.keys.delete(clientId);
    return ops;
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

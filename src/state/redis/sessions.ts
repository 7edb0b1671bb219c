/**
 * Persistent sessions in Redis, shared by every node. Keys (under the key
 * prefix):
 * - `sess:<clientId>` → hash: `meta` (the session without its messages
 *   and Will, JSON), `gen` (who saved it last), `bytes` (its messages'
 *   payload bytes), `will` (its delayed Will, JSON), `node` (the node
 *   holding it, while held), `since` (when a held session was adopted);
 * - `sess-q:<clientId>` → list of its pending messages, in order;
 * - `sess-h:<clientId>` → hash of a held session's messages (`hold`), by
 *   the connection's number for each;
 * - `sess-exp` → sorted set of client ids by expiry (ms); a held session is
 *   not in it (it expires once saved, or adopted: `adoptOrphans`);
 * - `will-due` → sorted set of client ids by the time their stored Will is
 *   due (ms): a claim removes the id, so one caller publishes it;
 * - `sess-held:<node>` → the client ids a node holds; `sess-nodes` → the
 *   nodes with such a set (for adopting a dead node's sessions).
 * Each operation is one MULTI or Lua script. A session is parked (collects
 * messages) on the node that saved it: `enqueue` appends only while the
 * stored session is still the one this store saved (its `gen`), so a node
 * whose device resumed its session elsewhere (and maybe parked it again
 * there) stops queuing for it instead of queuing twice.
 */
import { randomUUID } from 'node:crypto';
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
import type { RedisLink } from './link.js';
import { ADOPT, CLAIM_DUE_WILLS, CLAIM_WILL, DUE, ENQUEUE, TAKE, UPDATE } from './session-scripts.js';

const EXPIRE_BATCH = 100;
/** Held sessions adopted per script call (bounds how long one call holds Redis). */
const ADOPT_BATCH = 500;

export interface RedisSessionOptions {
  /** This node (presence's node id): the held sessions it writes are indexed under it. */
  readonly nodeId?: string;
  /** Presence's node TTL: a node whose heartbeat is older is dead, its held sessions adoptable. */
  readonly nodeTtlMs?: number;
}

export class RedisSessionStore<M> implements SessionStore<M> {
  /** The gen of each session this store saved and nobody took since. */
  private readonly saved = new Map<string, string>();
  /** The sessions this store holds (`hold`): their gen and record. */
  private readonly holding = new Map<string, { readonly gen: string; meta: HeldSession }>();

  private readonly nodeId: string;
  private readonly nodeTtlMs: number;
  /** When this store's link last (re)connected: after an outage every node's heartbeat looks lapsed for a while. */
  private readyAt: number | undefined;

  constructor(
    private readonly link: RedisLink,
    private readonly codec: MessageCodec<M>,
    options: RedisSessionOptions = {},
  ) {
    this.nodeId = options.nodeId ?? `node-${randomUUID()}`;
    this.nodeTtlMs = options.nodeTtlMs ?? 6000;
    link.onReady(() => (this.readyAt = Date.now()));
  }

  async save(session: StoredSession<M>): Promise<void> {
    const l = this.link;
    const { pending, will, ...meta } = session;
    const id = session.clientId;
    const gen = randomUUID();
    const q = l.key('sess-q', id);
    this.holding.delete(id);
    const tx = l.cmd
      .multi()
      .del(l.key('sess', id), q, l.key('sess-h', id))
      .srem(l.key('sess-held', this.nodeId), id)
      .hset(
        l.key('sess', id),
        'meta',
        JSON.stringify(meta),
        'gen',
        gen,
        'bytes',
        pending.reduce((n, p) => n + p.bytes, 0),
        ...(will ? ['will', JSON.stringify(will)] : []),
      )
      .zadd(l.key('sess-exp'), session.expiresAt, id);
    if (will) tx.zadd(l.key('will-due'), will.at, id);
    else tx.zrem(l.key('will-due'), id);
    if (pending.length > 0) tx.rpush(q, ...pending.map((p) => encodePending(this.codec, p)));
    await exec(tx);
    this.saved.set(session.clientId, gen);
  }

  async take(clientId: string): Promise<StoredSession<M> | undefined> {
    this.saved.delete(clientId);
    this.holding.delete(clientId);
    const l = this.link;
    const r = (await l.cmd.eval(
      TAKE,
      5,
      l.key('sess', clientId),
      l.key('sess-q', clientId),
      l.key('sess-exp'),
      l.key('sess-h', clientId),
      l.key('will-due'),
      clientId,
      l.key('sess-held', ''),
    )) as Taken | null;
    return r ? this.decode(r) : undefined;
  }

  async hold(session: HeldSession): Promise<void> {
    const l = this.link;
    const id = session.clientId;
    const gen = randomUUID();
    const { will, ...meta } = session;
    this.saved.delete(id);
    this.holding.set(id, { gen, meta });
    const tx = l.cmd
      .multi()
      .del(l.key('sess', id), l.key('sess-q', id), l.key('sess-h', id))
      .hset(l.key('sess', id), 'meta', JSON.stringify(meta), 'gen', gen, 'bytes', 0, 'node', this.nodeId, ...(will ? ['will', JSON.stringify(will)] : []))
      .zrem(l.key('sess-exp'), id)
      .zrem(l.key('will-due'), id)
      .sadd(l.key('sess-held', this.nodeId), id)
      .sadd(l.key('sess-nodes'), this.nodeId);
    await exec(tx);
  }

  async update(clientId: string, change: SessionChange<M>): Promise<void> {
    const h = this.holding.get(clientId);
    if (!h) return;
    if (change.subscriptions) h.meta = { ...h.meta, subscriptions: change.subscriptions };
    const puts = change.put ?? [];
    const l = this.link;
    await l.cmd.eval(
      UPDATE,
      2,
      l.key('sess', clientId),
      l.key('sess-h', clientId),
      h.gen,
      change.subscriptions ? JSON.stringify(h.meta) : '',
      puts.length,
      ...puts.flatMap(([n, p]) => [String(n), encodePending(this.codec, p)]),
      ...(change.del ?? []).map(String),
    );
  }

  async clearWill(clientId: string): Promise<void> {
    await this.claimWill(clientId);
  }

  async claimWill(clientId: string): Promise<StoredWill | undefined> {
    const l = this.link;
    const r = (await l.cmd.eval(CLAIM_WILL, 2, l.key('will-due'), l.key('sess', clientId), clientId)) as [string, string | null] | null;
    return r ? willOf(r[0], r[1]) : undefined;
  }

  async claimDueWills(now: number): Promise<DueWill[]> {
    const l = this.link;
    const out: DueWill[] = [];
    for (;;) {
      const due = (await l.cmd.eval(CLAIM_DUE_WILLS, 1, l.key('will-due'), now, EXPIRE_BATCH, l.key('sess', ''))) as Array<
        [string, string, string, string | null]
      >;
      for (const [clientId, text, meta, since] of due) {
        const will = willOf(text, since);
        const listener = parse<{ listener?: unknown }>(meta)?.listener;
        if (will) out.push({ clientId, will, ...(typeof listener === 'string' && { listener }) });
      }
      if (due.length < EXPIRE_BATCH) return out;
    }
  }

  async adoptOrphans(own: boolean): Promise<number> {
    const l = this.link;
    // Just (re)connected: the other nodes may not have beaten again yet since Redis came back, so none counts as dead.
    const settling = this.readyAt !== undefined && Date.now() - this.readyAt < 2 * this.nodeTtlMs;
    if (settling && !own) return 0;
    const mode = settling ? 'own' : own ? 'all' : 'others';
    let n = 0;
    for (let more = 1; more; ) {
      const [adopted, again] = (await l.cmd.eval(
        ADOPT,
        4,
        l.key('sess-nodes'),
        l.key('nodes'),
        l.key('sess-exp'),
        l.key('will-due'),
        l.prefix,
        this.nodeTtlMs,
        this.nodeId,
        mode,
        Date.now(),
        ADOPT_BATCH,
      )) as [number, number];
      n += adopted;
      more = again;
    }
    return n;
  }

  async enqueue(clientId: string, message: PendingMessage<M>, limits: QueueLimits): Promise<EnqueueResult> {
    const gen = this.saved.get(clientId);
    if (gen === undefined) return 'no-session';
    const l = this.link;
    const r = (await l.cmd.eval(
      ENQUEUE,
      2,
      l.key('sess', clientId),
      l.key('sess-q', clientId),
      gen,
      encodePending(this.codec, message),
      message.bytes,
      limits.maxMessages,
      limits.maxBytes,
    )) as EnqueueResult;
    if (r === 'no-session') this.saved.delete(clientId);
    return r;
  }

  async expire(now: number): Promise<Array<StoredSession<M>>> {
    const l = this.link;
    const out: Array<StoredSession<M>> = [];
    for (;;) {
      const due = (await l.cmd.eval(DUE, 1, l.key('sess-exp'), now, EXPIRE_BATCH)) as string[];
      for (const id of due) {
        const s = await this.take(id);
        if (s) out.push(s);
      }
      if (due.length < EXPIRE_BATCH) return out;
    }
  }

  count(): Promise<number> {
    return this.link.cmd.zcard(this.link.key('sess-exp'));
  }

  /** The link belongs to the state layer, which closes it. */
  async close(): Promise<void> {
    this.saved.clear();
    this.holding.clear();
  }

  private decode([meta, queue, held, willText, since]: Taken): StoredSession<M> | undefined {
    const s = parse<Omit<StoredSession<M>, 'pending' | 'will'> & { expirySeconds?: number }>(meta);
    if (!s) return undefined;
    // A held session's messages, by the connection's numbers, come first (it has no queue).
    const texts: string[] = [];
    const numbered: Array<[number, string]> = [];
    for (let i = 0; i + 1 < held.length; i += 2) numbered.push([Number(held[i]), held[i + 1]!]);
    numbered.sort((a, b) => a[0] - b[0]);
    for (const [, text] of numbered) texts.push(text);
    texts.push(...queue);
    const pending: Array<PendingMessage<M>> = [];
    for (const text of texts) {
      const p = decodePending(this.codec, text);
      if (p) pending.push(p);
    }
    const will = willText === null ? undefined : parse<StoredWill | HeldSession['will']>(willText);
    if (typeof s.expirySeconds !== 'number') return { ...s, pending, ...(will && 'at' in will && { will }) };
    // Held by a connection when last written (its node stopped without saving it): it expires from its adoption, else from now.
    const record = { ...s, ...(will && 'delaySeconds' in will && { will }) } as HeldSession;
    return { ...storedFromHeld(record, since === null ? Date.now() : Number(since)), pending };
  }
}

/** What TAKE returns: meta, queue, held messages, Will, since. */
type Taken = [string, string[], string[], string | null, string | null];

/** A stored Will as kept, or a held session's (due `delaySeconds` after its adoption at `since`). */
function willOf(text: string, since: string | null): StoredWill | undefined {
  const w = parse<Partial<StoredWill> & Partial<NonNullable<HeldSession['will']>>>(text);
  if (typeof w?.at === 'number') return { at: w.at, data: w.data };
  if (typeof w?.delaySeconds !== 'number') return undefined;
  return { at: (since === null ? Date.now() : Number(since)) + w.delaySeconds * 1000, data: w.data };
}

function parse<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

/** Runs a MULTI; a failed command inside it fails the whole. */
export async function exec(tx: { exec(): Promise<Array<[Error | null, unknown]> | null> }): Promise<unknown[]> {
  const results = await tx.exec();
  if (!results) throw new Error('transaction discarded');
  for (const [err] of results) if (err) throw err;
  return results.map(([, v]) => v);
}

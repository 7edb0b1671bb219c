/**
 * Persistent sessions in Redis, shared by every node. Keys (under the key
 * prefix):
 * - `sess:<clientId>` → hash: `meta` (the session without its messages,
 *   JSON), `gen` (who saved it last), `bytes` (its messages' payload bytes);
 * - `sess-q:<clientId>` → list of its pending messages, in order;
 * - `sess-h:<clientId>` → hash of a held session's messages (`hold`), by
 *   the connection's number for each;
 * - `sess-exp` → sorted set of client ids by expiry (ms); a held session is
 *   not in it (it expires once saved, or is read by a later process).
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
  liveExpiry,
  type EnqueueResult,
  type HeldSession,
  type PendingMessage,
  type QueueLimits,
  type SessionChange,
  type SessionStore,
  type StoredSession,
} from '../sessions.js';
import type { RedisLink } from './link.js';

/** KEYS: hash, queue, expiry set, held messages. ARGV: clientId. Returns {meta, messages, held messages} and deletes them, or false. */
const TAKE = `local meta = redis.call('HGET', KEYS[1], 'meta')
redis.call('ZREM', KEYS[3], ARGV[1])
if not meta then return false end
local q = redis.call('LRANGE', KEYS[2], 0, -1)
local h = redis.call('HGETALL', KEYS[4])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[4])
return {meta, q, h}`;

/**
 * KEYS: hash, held messages. ARGV: gen, meta or '', number of puts, the
 * puts (number, message), the deletions (numbers). Applied only while the
 * session is still the one held (its gen): not after a take elsewhere.
 */
const UPDATE = `if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return 0 end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'meta', ARGV[2]) end
local n = tonumber(ARGV[3])
for i = 0, n - 1 do redis.call('HSET', KEYS[2], ARGV[4 + 2 * i], ARGV[5 + 2 * i]) end
for i = 4 + 2 * n, #ARGV do redis.call('HDEL', KEYS[2], ARGV[i]) end
return 1`;

/** KEYS: hash. ARGV: the meta read, the meta to write: a compare-and-set. */
const SWAP_META = `if redis.call('HGET', KEYS[1], 'meta') == ARGV[1] then redis.call('HSET', KEYS[1], 'meta', ARGV[2]) end
return 1`;

/** KEYS: hash, queue. ARGV: gen, message, bytes, maxMessages, maxBytes. */
const ENQUEUE = `if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return 'no-session' end
local b = tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0') + tonumber(ARGV[3])
if redis.call('LLEN', KEYS[2]) + 1 > tonumber(ARGV[4]) or b > tonumber(ARGV[5]) then return 'full' end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[1], 'bytes', b)
return 'queued'`;

/** KEYS: expiry set. ARGV: now, batch. Client ids due, at most a batch. */
const DUE = `return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))`;

const EXPIRE_BATCH = 100;

export class RedisSessionStore<M> implements SessionStore<M> {
  /** The gen of each session this store saved and nobody took since. */
  private readonly saved = new Map<string, string>();
  /** The sessions this store holds (`hold`): their gen and record. */
  private readonly holding = new Map<string, { readonly gen: string; meta: HeldSession }>();

  constructor(
    private readonly link: RedisLink,
    private readonly codec: MessageCodec<M>,
  ) {}

  async save(session: StoredSession<M>): Promise<void> {
    const l = this.link;
    const { pending, ...meta } = session;
    const gen = randomUUID();
    const q = l.key('sess-q', session.clientId);
    this.holding.delete(session.clientId);
    const tx = l.cmd
      .multi()
      .del(q, l.key('sess-h', session.clientId))
      .hset(
        l.key('sess', session.clientId),
        'meta',
        JSON.stringify(meta),
        'gen',
        gen,
        'bytes',
        pending.reduce((n, p) => n + p.bytes, 0),
      )
      .zadd(l.key('sess-exp'), session.expiresAt, session.clientId);
    if (pending.length > 0) tx.rpush(q, ...pending.map((p) => encodePending(this.codec, p)));
    await exec(tx);
    this.saved.set(session.clientId, gen);
  }

  async take(clientId: string): Promise<StoredSession<M> | undefined> {
    this.saved.delete(clientId);
    this.holding.delete(clientId);
    const l = this.link;
    const r = (await l.cmd.eval(TAKE, 4, l.key('sess', clientId), l.key('sess-q', clientId), l.key('sess-exp'), l.key('sess-h', clientId), clientId)) as
      | [string, string[], string[]]
      | null;
    return r ? this.decode(r) : undefined;
  }

  async hold(session: HeldSession): Promise<void> {
    const l = this.link;
    const gen = randomUUID();
    this.saved.delete(session.clientId);
    this.holding.set(session.clientId, { gen, meta: session });
    const tx = l.cmd
      .multi()
      .del(l.key('sess-q', session.clientId), l.key('sess-h', session.clientId))
      .hset(l.key('sess', session.clientId), 'meta', JSON.stringify(session), 'gen', gen, 'bytes', 0)
      .zrem(l.key('sess-exp'), session.clientId);
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
    const l = this.link;
    const key = l.key('sess', clientId);
    const meta = await l.cmd.hget(key, 'meta');
    if (meta === null) return;
    const { will: _w, ...rest } = JSON.parse(meta) as StoredSession<M>;
    await l.cmd.eval(SWAP_META, 1, key, meta, JSON.stringify(rest));
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

  private decode([meta, queue, held]: [string, string[], string[]]): StoredSession<M> | undefined {
    let s: Omit<StoredSession<M>, 'pending'> & { expirySeconds?: number };
    try {
      s = JSON.parse(meta) as typeof s;
    } catch {
      return undefined;
    }
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
    if (typeof s.expirySeconds !== 'number') return { ...s, pending };
    // Held by a connection when last written (its node stopped without saving it): it expires from now.
    const { expirySeconds, ...rest } = s;
    return { ...rest, expiresAt: liveExpiry(expirySeconds, Date.now()), pending };
  }
}

/** Runs a MULTI; a failed command inside it fails the whole. */
export async function exec(tx: { exec(): Promise<Array<[Error | null, unknown]> | null> }): Promise<unknown[]> {
  const results = await tx.exec();
  if (!results) throw new Error('transaction discarded');
  for (const [err] of results) if (err) throw err;
  return results.map(([, v]) => v);
}

/**
 * Persistent sessions in Redis, shared by every node. Keys (under the key
 * prefix):
 * - `sess:<clientId>` → hash: `meta` (the session without its messages,
 *   JSON), `gen` (who saved it last), `bytes` (its messages' payload bytes);
 * - `sess-q:<clientId>` → list of its pending messages, in order;
 * - `sess-exp` → sorted set of client ids by expiry (ms).
 * Each operation is one MULTI or Lua script. A session is parked (collects
 * messages) on the node that saved it: `enqueue` appends only while the
 * stored session is still the one this store saved (its `gen`), so a node
 * whose device resumed its session elsewhere (and maybe parked it again
 * there) stops queuing for it instead of queuing twice.
 */
import { randomUUID } from 'node:crypto';
import type { MessageCodec } from '../codec.js';
import { decodePending, encodePending } from '../pending-codec.js';
import type { EnqueueResult, PendingMessage, QueueLimits, SessionStore, StoredSession } from '../sessions.js';
import type { RedisLink } from './link.js';

/** KEYS: hash, queue, expiry set. ARGV: clientId. Returns {meta, messages} and deletes them, or false. */
const TAKE = `local meta = redis.call('HGET', KEYS[1], 'meta')
redis.call('ZREM', KEYS[3], ARGV[1])
if not meta then return false end
local q = redis.call('LRANGE', KEYS[2], 0, -1)
redis.call('DEL', KEYS[1], KEYS[2])
return {meta, q}`;

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

  constructor(
    private readonly link: RedisLink,
    private readonly codec: MessageCodec<M>,
  ) {}

  async save(session: StoredSession<M>): Promise<void> {
    const l = this.link;
    const { pending, ...meta } = session;
    const gen = randomUUID();
    const q = l.key('sess-q', session.clientId);
    const tx = l.cmd
      .multi()
      .del(q)
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
    const l = this.link;
    const r = (await l.cmd.eval(TAKE, 3, l.key('sess', clientId), l.key('sess-q', clientId), l.key('sess-exp'), clientId)) as [string, string[]] | null;
    return r ? this.decode(r) : undefined;
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
  }

  private decode([meta, queue]: [string, string[]]): StoredSession<M> | undefined {
    let s: Omit<StoredSession<M>, 'pending'>;
    try {
      s = JSON.parse(meta) as Omit<StoredSession<M>, 'pending'>;
    } catch {
      return undefined;
    }
    const pending: Array<PendingMessage<M>> = [];
    for (const text of queue) {
      const p = decodePending(this.codec, text);
      if (p) pending.push(p);
    }
    return { ...s, pending };
  }
}

/** Runs a MULTI; a failed command inside it fails the whole. */
export async function exec(tx: { exec(): Promise<Array<[Error | null, unknown]> | null> }): Promise<unknown[]> {
  const results = await tx.exec();
  if (!results) throw new Error('transaction discarded');
  for (const [err] of results) if (err) throw err;
  return results.map(([, v]) => v);
}

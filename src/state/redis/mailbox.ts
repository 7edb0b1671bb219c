/**
 * Device mailboxes in Redis, shared by every node: a command queued through
 * one node's API is delivered by whichever node its device connects to.
 * Keys (under the key prefix):
 * - `mb:r:<id>` → the command record (JSON);
 * - `mb:q:<clientId>` → sorted set of the ids occupying the mailbox (queued
 *   or sent), scored by a global sequence: the queue order;
 * - `mb:h:<clientId>` → sorted set of every id of the device (its history);
 * - `mb:use:<clientId>`, `mb:use` → hashes of occupancy (messages, bytes)
 *   per device and in total;
 * - `mb:qc` → hash client id → commands in state queued;
 * - `mb:live` → sorted set of non-final ids by deadline (the expiry sweep);
 * - `mb:sent` → set of ids in state sent; `mb:done` → sorted set of
 *   finished ids by the time they finished (the purge); `mb:seq`; `mb:known`.
 * Enqueue checks the three bounds and appends in one Lua script, so the
 * bounds hold and the order is one order across nodes. A transition is a
 * compare-and-set: the new record is written (and the indexes moved) only
 * if the record is still the one it was computed from; otherwise it is
 * computed again from the fresh one. So of nodes claiming one queued
 * command for delivery (queued → sent) at once, one wins; the others find
 * it sent and leave it. A Redis outage fails each operation
 * (the API answers 503: nothing is acknowledged that Redis did not take).
 */
import {
  applyTransition,
  canTransition,
  isFinal,
  OCCUPYING_STATES,
  type CommandRecord,
  type CommandState,
  type EnqueueResult,
  type MailboxLimits,
  type MailboxStore,
  type NewCommand,
  type TransitionOptions,
} from '../mailbox.js';
import type { RedisLink } from './link.js';

/**
 * KEYS: record, queue, history, device use, total use, qc, live, seq.
 * ARGV: id, record, clientId, size, expiresAt, maxPerDevice, maxBytesPerDevice, maxTotal.
 */
const ENQUEUE = `local dm = tonumber(redis.call('HGET', KEYS[4], 'messages') or '0')
local db = tonumber(redis.call('HGET', KEYS[4], 'bytes') or '0')
local tm = tonumber(redis.call('HGET', KEYS[5], 'messages') or '0')
if dm + 1 > tonumber(ARGV[6]) then return 'device-messages' end
if db + tonumber(ARGV[4]) > tonumber(ARGV[7]) then return 'device-bytes' end
if tm + 1 > tonumber(ARGV[8]) then return 'total-messages' end
local seq = redis.call('INCR', KEYS[8])
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('HINCRBY', KEYS[4], 'messages', 1)
redis.call('HINCRBY', KEYS[4], 'bytes', ARGV[4])
redis.call('HINCRBY', KEYS[5], 'messages', 1)
redis.call('HINCRBY', KEYS[5], 'bytes', ARGV[4])
redis.call('HINCRBY', KEYS[6], ARGV[3], 1)
redis.call('ZADD', KEYS[7], ARGV[5], ARGV[1])
return 'ok'`;

/**
 * KEYS: record, queue, device use, total use, qc, live, sent, done.
 * ARGV: old record, new record, id, clientId, size, leaves (0/1), queued delta (-1/0/1),
 *       sent (1 add, -1 remove, 0), final (0/1), time.
 * Returns 0 when the record changed since it was read.
 */
const MOVE = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[6] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('HINCRBY', KEYS[3], 'messages', -1)
  redis.call('HINCRBY', KEYS[3], 'bytes', -tonumber(ARGV[5]))
  redis.call('HINCRBY', KEYS[4], 'messages', -1)
  redis.call('HINCRBY', KEYS[4], 'bytes', -tonumber(ARGV[5]))
  if tonumber(redis.call('HGET', KEYS[3], 'messages')) <= 0 then redis.call('DEL', KEYS[3]) end
end
local dq = tonumber(ARGV[7])
if dq ~= 0 and redis.call('HINCRBY', KEYS[5], ARGV[4], dq) <= 0 then redis.call('HDEL', KEYS[5], ARGV[4]) end
if ARGV[8] == '1' then redis.call('SADD', KEYS[7], ARGV[3]) elseif ARGV[8] == '-1' then redis.call('SREM', KEYS[7], ARGV[3]) end
if ARGV[9] == '1' then
  redis.call('ZREM', KEYS[6], ARGV[3])
  redis.call('ZADD', KEYS[8], ARGV[10], ARGV[3])
end
return 1`;

/** KEYS: done. ARGV: before, key prefix, batch. Deletes finished records older than `before`; returns how many. */
const PURGE = `local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local k = ARGV[2] .. 'mb:r:' .. id
  local v = redis.call('GET', k)
  if v then
    redis.call('ZREM', ARGV[2] .. 'mb:h:' .. cjson.decode(v).clientId, id)
    redis.call('DEL', k)
  end
  redis.call('ZREM', KEYS[1], id)
end
return #ids`;

/** Records swept per script call or read per round trip. */
const BATCH = 500;
/** Compare-and-set attempts before a transition gives up (another node keeps moving the command). */
const CAS_ATTEMPTS = 8;

export class RedisMailboxStore implements MailboxStore {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly link: RedisLink) {}

  /** The link is connected by the state layer. */
  async open(): Promise<void> {}

  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
  }

  enqueue(command: NewCommand, limits: MailboxLimits): Promise<EnqueueResult> {
    return this.serial(async () => {
      const l = this.link;
      const { createdAt, ...rest } = command;
      const record: CommandRecord = { ...rest, state: 'queued', timestamps: { queued: createdAt }, attempts: 0 };
      const r = (await l.cmd.eval(
        ENQUEUE,
        8,
        this.rec(record.id),
        l.key('mb:q', record.clientId),
        l.key('mb:h', record.clientId),
        l.key('mb:use', record.clientId),
        l.key('mb:use'),
        l.key('mb:qc'),
        l.key('mb:live'),
        l.key('mb:seq'),
        record.id,
        JSON.stringify(record),
        record.clientId,
        record.size,
        record.expiresAt,
        limits.maxMessagesPerDevice,
        limits.maxBytesPerDevice,
        limits.maxMessagesTotal,
      )) as string;
      if (r === 'ok') return { ok: true, record };
      const limit = r as 'device-messages' | 'device-bytes' | 'total-messages';
      const max = limit === 'device-messages' ? limits.maxMessagesPerDevice : limit === 'device-bytes' ? limits.maxBytesPerDevice : limits.maxMessagesTotal;
      return { ok: false, full: { limit, max } };
    });
  }

  async get(id: string): Promise<CommandRecord | undefined> {
    return parse(await this.link.cmd.get(this.rec(id)));
  }

  async list(clientId: string, limit: number): Promise<CommandRecord[]> {
    return this.records(await this.link.cmd.zrange(this.link.key('mb:h', clientId), 0, limit - 1));
  }

  /** In line with the writes of this store: a transition asked for before the call is reflected. */
  queued(clientId: string, limit: number): Promise<CommandRecord[]> {
    return this.serial(async () => {
      const out: CommandRecord[] = [];
      const ids = await this.link.cmd.zrange(this.link.key('mb:q', clientId), 0, -1);
      for (let i = 0; i < ids.length && out.length < limit; i += BATCH) {
        for (const r of await this.records(ids.slice(i, i + BATCH))) if (r.state === 'queued' && out.length < limit) out.push(r);
      }
      return out;
    });
  }

  transition(id: string, to: CommandState, options: TransitionOptions): Promise<CommandRecord | undefined> {
    return this.serial(() =>
      this.move(
        id,
        () => to,
        () => options,
      ),
    );
  }

  expire(now: number): Promise<CommandRecord[]> {
    return this.serial(async () => {
      const out: CommandRecord[] = [];
      const ids = await this.link.cmd.zrangebyscore(this.link.key('mb:live'), '-inf', now);
      for (const id of ids) {
        const next = await this.move(
          id,
          (r) => (r.expiresAt <= now && !isFinal(r) ? 'expired' : undefined),
          (r) => ({ at: now, reason: r.state === 'delivered' ? 'no response before the command expired' : 'not delivered before the command expired' }),
        );
        if (next) out.push(next);
      }
      return out;
    });
  }

  requeueSent(at: number): Promise<string[]> {
    return this.requeueUnawaited(at, () => false);
  }

  /** Reads the record of every command in state sent (`mb:sent`) and moves those nobody awaits, each by compare-and-set. */
  requeueUnawaited(at: number, awaited: (r: CommandRecord) => boolean): Promise<string[]> {
    return this.serial(async () => {
      const devices = new Set<string>();
      for (const id of await this.link.cmd.smembers(this.link.key('mb:sent'))) {
        const next = await this.move(
          id,
          (r) => (r.state === 'sent' && !awaited(r) ? 'queued' : undefined),
          (r) => ({ at, reason: `the node that sent it (${r.sentBy ?? 'unknown'}) stopped awaiting the device's acknowledgement` }),
        );
        if (next) devices.add(next.clientId);
      }
      return [...devices];
    });
  }

  purge(before: number): Promise<number> {
    return this.serial(async () => {
      const l = this.link;
      let total = 0;
      for (;;) {
        const n = Number(await l.cmd.eval(PURGE, 1, l.key('mb:done'), before, l.prefix, BATCH));
        total += n;
        if (n < BATCH) return total;
      }
    });
  }

  devicesWithQueued(): Promise<string[]> {
    return this.link.cmd.hkeys(this.link.key('mb:qc'));
  }

  async rememberDevice(clientId: string): Promise<void> {
    await this.link.cmd.sadd(this.link.key('mb:known'), clientId);
  }

  async knowsDevice(clientId: string): Promise<boolean> {
    return (await this.link.cmd.sismember(this.link.key('mb:known'), clientId)) === 1;
  }

  async usage(clientId?: string): Promise<{ messages: number; bytes: number }> {
    const key = clientId === undefined ? this.link.key('mb:use') : this.link.key('mb:use', clientId);
    const [messages, bytes] = await this.link.cmd.hmget(key, 'messages', 'bytes');
    return { messages: Number(messages ?? 0), bytes: Number(bytes ?? 0) };
  }

  /**
   * Moves a command to the state `target` names for its current record
   * (undefined: leave it), by compare-and-set, reading it again when another
   * node changed it meanwhile.
   */
  private async move(
    id: string,
    target: (r: CommandRecord) => CommandState | undefined,
    options: (r: CommandRecord) => TransitionOptions,
  ): Promise<CommandRecord | undefined> {
    const l = this.link;
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
      const text = await l.cmd.get(this.rec(id));
      const current = parse(text);
      if (!current) return undefined;
      const to = target(current);
      if (to === undefined || !canTransition(current.state, to)) return undefined;
      const o = options(current);
      const next = applyTransition(current, to, o);
      const occupied = OCCUPYING_STATES.has(current.state);
      const leaves = occupied && !OCCUPYING_STATES.has(to);
      const queuedDelta = (to === 'queued' ? 1 : 0) - (current.state === 'queued' ? 1 : 0);
      const sent = to === 'sent' ? 1 : current.state === 'sent' ? -1 : 0;
      const ok = await l.cmd.eval(
        MOVE,
        8,
        this.rec(id),
        l.key('mb:q', current.clientId),
        l.key('mb:use', current.clientId),
        l.key('mb:use'),
        l.key('mb:qc'),
        l.key('mb:live'),
        l.key('mb:sent'),
        l.key('mb:done'),
        text!,
        JSON.stringify(next),
        id,
        current.clientId,
        current.size,
        leaves ? 1 : 0,
        queuedDelta,
        sent,
        isFinal(next) ? 1 : 0,
        o.at,
      );
      if (Number(ok) === 1) return next;
    }
    return undefined;
  }

  private async records(ids: string[]): Promise<CommandRecord[]> {
    if (ids.length === 0) return [];
    const texts = await this.link.cmd.mget(...ids.map((id) => this.rec(id)));
    return texts.map(parse).filter((r): r is CommandRecord => r !== undefined);
  }

  private rec(id: string): string {
    return this.link.key('mb:r', id);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

function parse(v: string | null | undefined): CommandRecord | undefined {
  if (v === null || v === undefined) return undefined;
  try {
    return JSON.parse(v) as CommandRecord;
  } catch {
    return undefined;
  }
}

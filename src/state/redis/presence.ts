/**
 * Presence in Redis. Keys (under the key prefix):
 * - `dev:<clientId>` → the node holding it (a string, no TTL);
 * - `pr:<clientId>` → the principal it was claimed for (absent: anonymous), kept and removed with `dev:`;
 * - `node-devs:<node>` → the set of client ids a node claimed (for the sweep);
 * - `nodes` → sorted set of node ids scored by their last heartbeat (ms);
 * - `node-info` → hash of node id → JSON said with the heartbeat.
 * Each operation is one Lua script, so a claim and its previous holder are
 * read and written atomically, and times come from Redis (`TIME`), not from
 * the nodes' clocks. An entry of a dead node counts as absent at once and is
 * deleted by the next heartbeat of any live node, a bounded batch at a time.
 */
import type { Holder, NodeInfo, Presence } from '../presence.js';
import type { RedisLink } from './link.js';

const NOW = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS: dev key, own set, nodes, principal key. ARGV: node, clientId, ttl, set prefix, principal ('' for none). Returns the live previous holder, if another node. */
const CLAIM = `${NOW}
local prev = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[5] ~= '' then redis.call('SET', KEYS[4], ARGV[5]) else redis.call('DEL', KEYS[4]) end
redis.call('SADD', KEYS[2], ARGV[2])
if prev and prev ~= ARGV[1] then
  redis.call('SREM', ARGV[4] .. prev, ARGV[2])
  local seen = redis.call('ZSCORE', KEYS[3], prev)
  if seen and now - tonumber(seen) <= tonumber(ARGV[3]) then return prev end
end
return false`;

/** KEYS: dev key, own set, principal key. ARGV: node, clientId. */
const RELEASE = `redis.call('SREM', KEYS[2], ARGV[2])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1], KEYS[3]) end
return 1`;

/** KEYS: dev key, nodes. ARGV: ttl, self. */
const LOOKUP = `${NOW}
local n = redis.call('GET', KEYS[1])
if not n then return false end
if n == ARGV[2] then return n end
local seen = redis.call('ZSCORE', KEYS[2], n)
if seen and now - tonumber(seen) <= tonumber(ARGV[1]) then return n end
return false`;

/** KEYS: dev key, nodes, principal key. ARGV: ttl, self. Returns {node, principal or false}, or false. */
const HOLDER = `${NOW}
local n = redis.call('GET', KEYS[1])
if not n then return false end
if n ~= ARGV[2] then
  local seen = redis.call('ZSCORE', KEYS[2], n)
  if not seen or now - tonumber(seen) > tonumber(ARGV[1]) then return false end
end
return {n, redis.call('GET', KEYS[3])}`;

/**
 * KEYS: nodes, node-info. ARGV: node ('' for none), info, ttl, key prefix, batch.
 * Beats for ARGV[1], then removes up to `batch` entries of dead nodes;
 * returns how many remain to sweep (the caller calls again while > 0).
 */
const BEAT = `${NOW}
if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[1])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
end
local budget = tonumber(ARGV[5])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
for _, node in ipairs(dead) do
  local set = ARGV[4] .. 'node-devs:' .. node
  local ids = redis.call('SPOP', set, budget)
  for _, id in ipairs(ids) do
    local k = ARGV[4] .. 'dev:' .. id
    if redis.call('GET', k) == node then redis.call('DEL', k, ARGV[4] .. 'pr:' .. id) end
  end
  budget = budget - #ids
  if redis.call('SCARD', set) == 0 then
    redis.call('ZREM', KEYS[1], node)
    redis.call('HDEL', KEYS[2], node)
  end
  if budget <= 0 then return 1 end
end
return 0`;

/** KEYS: own set, nodes, node-info. ARGV: node, key prefix, batch. Removes this node's entries, a batch at a time. */
const LEAVE = `local ids = redis.call('SPOP', KEYS[1], tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  local k = ARGV[2] .. 'dev:' .. id
  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k, ARGV[2] .. 'pr:' .. id) end
end
if redis.call('SCARD', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[3], ARGV[1])
  return 0
end
return 1`;

/** Client ids swept per script call (bounds how long one call holds Redis). */
const SWEEP_BATCH = 1000;

export class RedisPresence implements Presence {
  constructor(
    private readonly link: RedisLink,
    readonly nodeId: string,
    private readonly nodeTtlMs: number,
  ) {}

  async claim(clientId: string, principal?: string): Promise<string | undefined> {
    const l = this.link;
    try {
      const prev = await l.cmd.eval(
        CLAIM,
        4,
        l.key('dev', clientId),
        l.key('node-devs', this.nodeId),
        l.key('nodes'),
        l.key('pr', clientId),
        this.nodeId,
        clientId,
        this.nodeTtlMs,
        l.key('node-devs', ''),
        principal ?? '',
      );
      return typeof prev === 'string' ? prev : undefined;
    } catch (err) {
      return l.failed('presence.claim', err as Error);
    }
  }

  async release(clientId: string): Promise<void> {
    const l = this.link;
    try {
      await l.cmd.eval(RELEASE, 3, l.key('dev', clientId), l.key('node-devs', this.nodeId), l.key('pr', clientId), this.nodeId, clientId);
    } catch (err) {
      l.failed('presence.release', err as Error);
    }
  }

  async lookup(clientId: string): Promise<string | undefined> {
    const l = this.link;
    try {
      const n = await l.cmd.eval(LOOKUP, 2, l.key('dev', clientId), l.key('nodes'), this.nodeTtlMs, this.nodeId);
      return typeof n === 'string' ? n : undefined;
    } catch (err) {
      return l.failed('presence.lookup', err as Error);
    }
  }

  async holder(clientId: string): Promise<Holder | undefined> {
    const l = this.link;
    try {
      const r = (await l.cmd.eval(HOLDER, 3, l.key('dev', clientId), l.key('nodes'), l.key('pr', clientId), this.nodeTtlMs, this.nodeId)) as
        | [string, string | null]
        | null;
      if (!r) return undefined;
      return r[1] === null ? { node: r[0] } : { node: r[0], principal: r[1] };
    } catch (err) {
      return l.failed('presence.holder', err as Error);
    }
  }

  async heartbeat(info: Readonly<Record<string, string | number>> = {}): Promise<void> {
    await this.beat(this.nodeId, JSON.stringify(info));
  }

  async nodes(): Promise<NodeInfo[]> {
    const l = this.link;
    try {
      const [[, time], [, scored], [, infos]] = (await l.cmd.multi().time().zrange(l.key('nodes'), 0, -1, 'WITHSCORES').hgetall(l.key('node-info')).exec()) as [
        [null, [string, string]],
        [null, string[]],
        [null, Record<string, string>],
      ];
      const now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
      const out: NodeInfo[] = [];
      for (let i = 0; i < scored.length; i += 2) {
        const id = scored[i]!;
        const lastSeen = Number(scored[i + 1]);
        if (now - lastSeen > this.nodeTtlMs) continue;
        out.push({ id, lastSeen, info: parseInfo(infos[id]) });
      }
      return out;
    } catch (err) {
      l.failed('presence.nodes', err as Error);
      return [];
    }
  }

  async leave(): Promise<void> {
    const l = this.link;
    try {
      for (let more = 1; more; ) {
        more = Number(await l.cmd.eval(LEAVE, 3, l.key('node-devs', this.nodeId), l.key('nodes'), l.key('node-info'), this.nodeId, l.prefix, SWEEP_BATCH));
      }
    } catch (err) {
      l.failed('presence.leave', err as Error);
    }
  }

  private async beat(node: string, info: string): Promise<void> {
    const l = this.link;
    try {
      for (let more = 1, first = true; more; first = false) {
        more = Number(await l.cmd.eval(BEAT, 2, l.key('nodes'), l.key('node-info'), first ? node : '', info, this.nodeTtlMs, l.prefix, SWEEP_BATCH));
      }
    } catch (err) {
      l.failed('presence.heartbeat', err as Error);
    }
  }
}

function parseInfo(json: string | undefined): Readonly<Record<string, string | number>> {
  try {
    const v = JSON.parse(json ?? '{}') as unknown;
    return v && typeof v === 'object' ? (v as Record<string, string | number>) : {};
  } catch {
    return {};
  }
}

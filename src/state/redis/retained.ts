/**
 * Retained messages in Redis, shared by every node. Keys (under the key
 * prefix): `ret` → hash topic → message (the caller's codec); `ret-size`
 * → hash topic → payload bytes; `ret-bytes` → their total. Setting checks
 * the bounds and writes in one Lua script; matching a wildcard filter runs
 * in one script too, so a subscription sees one consistent set (never half
 * of a concurrent replace). Matching scans every retained topic in Redis:
 * the store is bounded (`maxMessages`), and SUBSCRIBE is rare next to
 * PUBLISH.
 */
import type { MessageCodec } from '../codec.js';
import type { RetainedLimits } from '../embedded/retained.js';
import type { RetainResult, RetainedStore } from '../retained.js';
import type { RedisLink } from './link.js';

/** KEYS: ret, ret-size, ret-bytes. ARGV: topic, message, bytes, maxMessages, maxBytes. */
const SET = `local old = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
local total = tonumber(redis.call('GET', KEYS[3]) or '0') - math.max(old, 0) + tonumber(ARGV[3])
if total > tonumber(ARGV[5]) or (old < 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4])) then return 'full' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('SET', KEYS[3], total)
return 'stored'`;

/** KEYS: ret, ret-size, ret-bytes. ARGV: topic. */
const DELETE = `local old = redis.call('HGET', KEYS[2], ARGV[1])
if not old then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DECRBY', KEYS[3], old)
return 1`;

/** KEYS: ret. ARGV: filter. The messages of matching topics (MQTT 5.0 §4.7; '$' topics only for explicit filters [MQTT-4.7.2-1]). */
const MATCH = `local function split(s)
  local t = {}
  for part in string.gmatch(s .. '/', '([^/]*)/') do t[#t + 1] = part end
  return t
end
local f = split(ARGV[1])
local function matches(t)
  for j = 1, #f do
    if f[j] == '#' then return true end
    if j > #t then return false end
    if f[j] ~= '+' and f[j] ~= t[j] then return false end
  end
  return #t == #f
end
local wildFirst = f[1] == '+' or f[1] == '#'
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local topic = all[i]
  if not (wildFirst and string.sub(topic, 1, 1) == '$') and matches(split(topic)) then out[#out + 1] = all[i + 1] end
end
return out`;

export class RedisRetainedStore<M> implements RetainedStore<M> {
  constructor(
    private readonly link: RedisLink,
    private readonly codec: MessageCodec<M>,
    private readonly limits: RetainedLimits = { maxMessages: 10_000, maxBytes: 16 * 1024 * 1024 },
  ) {}

  async set(topic: string, message: M, bytes: number): Promise<RetainResult> {
    const l = this.link;
    return (await l.cmd.eval(
      SET,
      3,
      l.key('ret'),
      l.key('ret-size'),
      l.key('ret-bytes'),
      topic,
      this.codec.encode(message),
      bytes,
      this.limits.maxMessages,
      this.limits.maxBytes,
    )) as RetainResult;
  }

  async delete(topic: string): Promise<boolean> {
    const l = this.link;
    return Number(await l.cmd.eval(DELETE, 3, l.key('ret'), l.key('ret-size'), l.key('ret-bytes'), topic)) === 1;
  }

  async match(filter: string): Promise<M[]> {
    const l = this.link;
    const exact = !filter.includes('+') && !filter.includes('#');
    const texts = exact ? [await l.cmd.hget(l.key('ret'), filter)] : ((await l.cmd.eval(MATCH, 1, l.key('ret'), filter)) as string[]);
    const out: M[] = [];
    for (const t of texts) {
      const m = t === null ? undefined : this.codec.decode(t);
      if (m !== undefined) out.push(m);
    }
    return out;
  }

  count(): Promise<number> {
    return this.link.cmd.hlen(this.link.key('ret'));
  }

  /** The link belongs to the state layer, which closes it. */
  async close(): Promise<void> {}
}

/**
 * The Lua scripts of the Redis session store (sessions.ts), each run
 * atomically by Redis: a session, its queue, its Will and the indexes
 * (`sess-exp`, `will-due`, `sess-held:<node>`, `sess-nodes`) change together,
 * so that of the nodes racing for a Will or an orphaned session exactly one
 * gets it.
 */

/**
 * KEYS: hash, queue, expiry set, held messages, will-due. ARGV: clientId, held-set prefix.
 * Returns {meta, messages, held messages, will or false, since or false} and deletes them, or false.
 */
export const TAKE = `local meta = redis.call('HGET', KEYS[1], 'meta')
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
if not meta then return false end
local node = redis.call('HGET', KEYS[1], 'node')
if node then redis.call('SREM', ARGV[2] .. node, ARGV[1]) end
local r = {meta, redis.call('LRANGE', KEYS[2], 0, -1), redis.call('HGETALL', KEYS[4]),
  redis.call('HGET', KEYS[1], 'will') or false, redis.call('HGET', KEYS[1], 'since') or false}
redis.call('DEL', KEYS[1], KEYS[2], KEYS[4])
return r`;

/**
 * KEYS: hash, held messages. ARGV: gen, meta or '', number of puts, the
 * puts (number, message), the deletions (numbers). Applied only while the
 * session is still the one held (its gen): not after a take elsewhere.
 */
export const UPDATE = `if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return 0 end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'meta', ARGV[2]) end
local n = tonumber(ARGV[3])
for i = 0, n - 1 do redis.call('HSET', KEYS[2], ARGV[4 + 2 * i], ARGV[5 + 2 * i]) end
for i = 4 + 2 * n, #ARGV do redis.call('HDEL', KEYS[2], ARGV[i]) end
return 1`;

/** KEYS: hash, queue. ARGV: gen, message, bytes, maxMessages, maxBytes. */
export const ENQUEUE = `if redis.call('HGET', KEYS[1], 'gen') ~= ARGV[1] then return 'no-session' end
local b = tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0') + tonumber(ARGV[3])
if redis.call('LLEN', KEYS[2]) + 1 > tonumber(ARGV[4]) or b > tonumber(ARGV[5]) then return 'full' end
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('HSET', KEYS[1], 'bytes', b)
return 'queued'`;

/** KEYS: expiry set. ARGV: now, batch. Client ids due, at most a batch. */
export const DUE = `return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))`;

/** KEYS: will-due, hash. ARGV: clientId. The Will (removed) and the session's `since`, or false when another claimed it or it is gone. */
export const CLAIM_WILL = `if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return false end
local w = redis.call('HGET', KEYS[2], 'will')
if not w then return false end
redis.call('HDEL', KEYS[2], 'will')
return {w, redis.call('HGET', KEYS[2], 'since') or false}`;

/**
 * KEYS: will-due. ARGV: now, batch, hash prefix. Claims (as CLAIM_WILL) up
 * to a batch of Wills due; returns {clientId, will, meta, since or false} each.
 */
export const CLAIM_DUE_WILLS = `local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))) do
  redis.call('ZREM', KEYS[1], id)
  local k = ARGV[3] .. id
  local w = redis.call('HGET', k, 'will')
  if w then
    redis.call('HDEL', k, 'will')
    out[#out + 1] = {id, w, redis.call('HGET', k, 'meta') or '{}', redis.call('HGET', k, 'since') or false}
  end
end
return out`;

/**
 * KEYS: sess-nodes, nodes (presence), expiry set, will-due.
 * ARGV: key prefix, node TTL, this node, what to adopt ('others', 'all': this
 * node's own too, 'own': only this node's), now (ms), batch.
 * Turns up to a batch of held sessions of dead nodes into stored ones: a
 * node is dead when its presence heartbeat (Redis time) is older than the
 * TTL or gone. A held session still marked as the dead node's gets `since`
 * (now), its expiry in the expiry set and its Will's due time in will-due.
 * Returns {adopted, 1 while more remain}.
 */
export const ADOPT = `local t = redis.call('TIME')
local rnow = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now = tonumber(ARGV[5])
local budget = tonumber(ARGV[6])
local adopted = 0
for _, node in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local dead = ARGV[4] ~= 'others'
  if node ~= ARGV[3] and ARGV[4] == 'own' then
    dead = false
  elseif node ~= ARGV[3] then
    local seen = redis.call('ZSCORE', KEYS[2], node)
    dead = (not seen) or rnow - tonumber(seen) > tonumber(ARGV[2])
  end
  if dead then
    local set = ARGV[1] .. 'sess-held:' .. node
    local ids = redis.call('SPOP', set, budget)
    for _, id in ipairs(ids) do
      local k = ARGV[1] .. 'sess:' .. id
      if redis.call('HGET', k, 'node') == node then
        local meta = cjson.decode(redis.call('HGET', k, 'meta'))
        local exp = tonumber(meta.expirySeconds) or 0
        local score = '+inf'
        if exp < 4294967295 then score = string.format('%.0f', now + exp * 1000) end
        redis.call('HDEL', k, 'node')
        redis.call('HSET', k, 'since', ARGV[5])
        redis.call('ZADD', KEYS[3], score, id)
        local w = redis.call('HGET', k, 'will')
        if w then
          local d = tonumber(cjson.decode(w).delaySeconds) or 0
          redis.call('ZADD', KEYS[4], string.format('%.0f', now + d * 1000), id)
        end
        adopted = adopted + 1
      end
    end
    budget = budget - #ids
    if redis.call('SCARD', set) == 0 then redis.call('SREM', KEYS[1], node) end
    if budget <= 0 then return {adopted, 1} end
  end
end
return {adopted, 0}`;

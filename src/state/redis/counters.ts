/**
 * Window counters in Redis: `cnt:<key>:<window>` incremented by a script that
 * cuts the window by Redis's clock and lets the key expire after two windows.
 * While Redis is unreachable, each node counts alone in memory (see
 * state/counters.ts for how approximate that is).
 */
import type { Counters } from '../counters.js';
import { EmbeddedCounters } from '../embedded/counters.js';
import type { RedisLink } from './link.js';

/** KEYS: key stem. ARGV: n, windowMs. */
const ADD = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local w = tonumber(ARGV[2])
local k = KEYS[1] .. ':' .. math.floor(now / w)
local v = redis.call('INCRBY', k, tonumber(ARGV[1]))
if v == tonumber(ARGV[1]) then redis.call('PEXPIRE', k, 2 * w) end
return v`;

export class RedisCounters implements Counters {
  private readonly local = new EmbeddedCounters();

  constructor(private readonly link: RedisLink) {}

  async add(key: string, n: number, windowMs: number): Promise<number> {
    try {
      return Number(await this.link.cmd.eval(ADD, 1, this.link.key('cnt', key), n, windowMs));
    } catch (err) {
      this.link.failed('counters.add', err as Error);
      return this.local.addNow(key, n, windowMs);
    }
  }
}

/**
 * Shared `ctx.state` in Redis: one hash per script (`sstate:<script>`), and
 * each batch announced on the `sstate` channel by the same Lua call that
 * writes it. Redis runs scripts one at a time and delivers PUBLISHes in the
 * order it ran them, so every node hears the batches in the order the hash
 * took them, and a node applying them ends where the hash is.
 */
import type { ScriptStateBatch, ScriptStateListener, ScriptStateAnnouncement, ScriptStateStore } from '../script-state.js';
import type { RedisLink } from './link.js';

/** KEYS: the script's hash. ARGV: channel, announcement (JSON; its changes are `[key, JSON text | null]`). */
const WRITE = `local a = cjson.decode(ARGV[2])
for _, c in ipairs(a.changes) do
  if c[2] == cjson.null then redis.call('HDEL', KEYS[1], c[1]) else redis.call('HSET', KEYS[1], c[1], c[2]) end
end
redis.call('PUBLISH', ARGV[1], ARGV[2])
return 1`;

/** KEYS: the script's hash. ARGV: key, value, key, value, ... — each deleted only while it holds that value. */
const EVICT = `for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
return 1`;

/** The hash as a flat list (HGETALL's raw reply, without a client turning it into an object). */
const LOAD = `return redis.call('HGETALL', KEYS[1])`;

/** Quiet time after a reconnect before replicas reload, so the subscriber has subscribed again first. */
const RESYNC_DELAY_MS = 250;

export class RedisScriptState implements ScriptStateStore {
  private unsubscribe: (() => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  /** The one listener; a later listen() replaces it (a gateway whose scripts all went and came back). */
  private listener: ScriptStateListener | undefined;

  constructor(
    private readonly link: RedisLink,
    readonly nodeId: string,
  ) {}

  async load(script: string): Promise<Array<[string, string]>> {
    // At start the scripts load before the gateway connects the state: wait for it as start-up does.
    if (!(await this.link.whenReady())) throw new Error('Redis is unreachable');
    const flat = (await this.link.cmd.eval(LOAD, 1, this.hash(script))) as string[];
    const out: Array<[string, string]> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
    return out;
  }

  async write(batch: ScriptStateBatch): Promise<boolean> {
    const announced: ScriptStateAnnouncement = { node: this.nodeId, script: batch.script, seq: batch.seq, changes: batch.changes };
    try {
      await this.link.cmd.eval(WRITE, 1, this.hash(batch.script), this.link.key('sstate'), JSON.stringify(announced));
      return true;
    } catch (err) {
      this.link.failed('scriptState.write', err as Error);
      return false;
    }
  }

  async evict(script: string, entries: ReadonlyArray<readonly [string, string]>): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.link.cmd.eval(EVICT, 1, this.hash(script), ...entries.flat());
    } catch (err) {
      this.link.failed('scriptState.evict', err as Error);
    }
  }

  async listen(listener: ScriptStateListener): Promise<void> {
    const first = this.listener === undefined;
    this.listener = listener;
    if (!first) return;
    const resync = (): void => {
      clearTimeout(this.resyncTimer);
      this.resyncTimer = setTimeout(() => this.listener?.resync(), RESYNC_DELAY_MS);
      this.resyncTimer.unref();
    };
    this.link.onReady(resync);
    this.link.sub.on('ready', resync);
    this.unsubscribe = await this.link.subscribe(this.link.key('sstate'), (text) => {
      let a: ScriptStateAnnouncement;
      try {
        a = JSON.parse(text) as ScriptStateAnnouncement;
      } catch {
        return; // not ours: another program publishing on our prefix
      }
      if (typeof a?.script !== 'string' || typeof a.node !== 'string' || !Array.isArray(a.changes)) return;
      this.listener?.changed(a);
    });
  }

  async close(): Promise<void> {
    clearTimeout(this.resyncTimer);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.listener = undefined;
  }

  private hash(script: string): string {
    return this.link.key('sstate', script);
  }
}

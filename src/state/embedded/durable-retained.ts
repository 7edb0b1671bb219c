/**
 * The durable embedded retained-message store: the in-memory store
 * (retained.ts) for every match, written through to a LevelDB database
 * (classic-level) so retained messages survive a restart, `kill -9`
 * included. One key per topic (`t␀<topic>` → bytes and the message by the
 * caller's codec); writes are group-committed (group-commit.ts) and a
 * `set` resolves once its batch is written.
 */
import { ClassicLevel } from 'classic-level';
import type { MessageCodec } from '../codec.js';
import type { RetainResult, RetainedStore } from '../retained.js';
import { GroupCommit, type Op } from './group-commit.js';
import { MemoryRetainedStore, type RetainedLimits } from './retained.js';

const PREFIX = 't\u0000';

export class DurableRetainedStore<M> implements RetainedStore<M> {
  private readonly db: ClassicLevel<string, string>;
  private readonly memory: MemoryRetainedStore<M>;
  private readonly writes: GroupCommit;

  constructor(
    readonly directory: string,
    private readonly codec: MessageCodec<M>,
    limits?: RetainedLimits,
    options: { readonly sync?: boolean } = {},
  ) {
    this.db = new ClassicLevel<string, string>(directory, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    this.memory = new MemoryRetainedStore<M>(limits);
    this.writes = new GroupCommit(this.db, { sync: (options.sync ?? true) ? 'always' : 'never' });
  }

  async open(): Promise<void> {
    await this.db.open({ createIfMissing: true });
    const junk: Op[] = [];
    for await (const [k, v] of this.db.iterator({ gte: PREFIX, lt: `${PREFIX}\uffff` })) {
      let stored: { b: number; m: string } | undefined;
      try {
        stored = JSON.parse(v) as { b: number; m: string };
      } catch {
        stored = undefined;
      }
      const message = stored && this.codec.decode(stored.m);
      // Unreadable, or beyond bounds lowered since it was stored.
      if (message === undefined || (await this.memory.set(k.slice(PREFIX.length), message, stored!.b)) !== 'stored') junk.push({ type: 'del', key: k });
    }
    await this.writes.write(junk);
  }

  async set(topic: string, message: M, bytes: number): Promise<RetainResult> {
    const r = await this.memory.set(topic, message, bytes);
    if (r === 'stored') await this.writes.write([{ type: 'put', key: PREFIX + topic, value: JSON.stringify({ b: bytes, m: this.codec.encode(message) }) }]);
    return r;
  }

  async delete(topic: string): Promise<boolean> {
    const had = await this.memory.delete(topic);
    if (had) await this.writes.write([{ type: 'del', key: PREFIX + topic }]);
    return had;
  }

  match(filter: string): Promise<M[]> {
    return this.memory.match(filter);
  }

  count(): Promise<number> {
    return this.memory.count();
  }

  async close(): Promise<void> {
    await this.writes.close();
    await this.memory.close();
  }
}

/**
 * In-memory retained-message store, bounded in topics and payload bytes:
 * retained messages live as long as the process. The durable embedded
 * store (durable-retained.ts) keeps one for its matches.
 */
import { compileFilter, matchesCompiled } from '../../envelope/address-pattern.js';
import type { RetainResult, RetainedStore } from '../retained.js';

export interface RetainedLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
}

export class MemoryRetainedStore<M> implements RetainedStore<M> {
  private readonly byTopic = new Map<string, { message: M; bytes: number }>();
  private bytes = 0;

  constructor(private readonly limits: RetainedLimits = { maxMessages: 10_000, maxBytes: 16 * 1024 * 1024 }) {}

  async set(topic: string, message: M, bytes: number): Promise<RetainResult> {
    const old = this.byTopic.get(topic);
    const after = this.bytes - (old?.bytes ?? 0) + bytes;
    if (after > this.limits.maxBytes || (!old && this.byTopic.size >= this.limits.maxMessages)) return 'full';
    this.byTopic.set(topic, { message, bytes });
    this.bytes = after;
    return 'stored';
  }

  async delete(topic: string): Promise<boolean> {
    const old = this.byTopic.get(topic);
    if (!old) return false;
    this.byTopic.delete(topic);
    this.bytes -= old.bytes;
    return true;
  }

  async match(filter: string): Promise<M[]> {
    const exact = !filter.includes('+') && !filter.includes('#');
    if (exact) {
      const e = this.byTopic.get(filter);
      return e ? [e.message] : [];
    }
    const levels = compileFilter(filter);
    const out: M[] = [];
    for (const [topic, e] of this.byTopic) if (matchesCompiled(levels, topic)) out.push(e.message);
    return out;
  }

  async count(): Promise<number> {
    return this.byTopic.size;
  }

  async close(): Promise<void> {
    this.byTopic.clear();
    this.bytes = 0;
  }
}

/**
 * `ctx.state`: a per-script key/value store kept in the script's thread
 * beside (not inside) its isolates, so it survives hot reloads and isolate
 * rebuilds. Values are JSON text; the store is bounded
 * in entries and bytes, and when full it forgets its oldest writes first
 * (a re-written key counts as new), which suits de-duplication windows.
 */

export interface StateLimits {
  readonly maxEntries: number;
  readonly maxBytes: number;
}

export class StateStore {
  private readonly map = new Map<string, string>();
  private bytes = 0;

  constructor(private limits: StateLimits) {}

  /** New bounds apply from the next write (a reload may change them). */
  configure(limits: StateLimits): void {
    this.limits = limits;
    this.evict();
  }

  get size(): number {
    return this.map.size;
  }

  get byteSize(): number {
    return this.bytes;
  }

  get(key: string): string | undefined {
    return this.map.get(key);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  /** Returns an error text when the entry alone exceeds the byte bound. */
  set(key: string, json: string): string | undefined {
    const cost = entryBytes(key, json);
    if (cost > this.limits.maxBytes) return `state entry '${key.slice(0, 64)}' is ${cost} bytes; the limit is ${this.limits.maxBytes}`;
    this.delete(key);
    this.map.set(key, json);
    this.bytes += cost;
    this.evict();
    return undefined;
  }

  delete(key: string): boolean {
    const old = this.map.get(key);
    if (old === undefined) return false;
    this.map.delete(key);
    this.bytes -= entryBytes(key, old);
    return true;
  }

  /** Dispatches one call from the isolate (see isolate/prelude.js). */
  call(op: string, key?: string, value?: string): string | number | boolean | undefined {
    switch (op) {
      case 'get':
        return this.get(String(key));
      case 'has':
        return this.has(String(key));
      case 'set':
        return this.set(String(key), String(value));
      case 'delete':
        return this.delete(String(key));
      case 'size':
        return this.size;
      default:
        return undefined;
    }
  }

  private evict(): void {
    for (const [k] of this.map) {
      if (this.map.size <= this.limits.maxEntries && this.bytes <= this.limits.maxBytes) break;
      this.delete(k);
    }
  }
}

/** UTF-16 code units × 2 is an upper bound close enough for a budget, and cheap. */
function entryBytes(key: string, json: string): number {
  return (key.length + json.length) * 2;
}

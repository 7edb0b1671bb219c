/**
 * A map that also remembers the order its entries were (re)set in, and
 * gives the oldest entry in O(1) (amortized).
 *
 * Why not a plain Map and `map.keys().next()`: V8 leaves a hole in a Map's
 * table for every deleted entry until the table is rehashed, and iteration
 * from the head walks over every hole. A Map used as a queue — delete the
 * oldest, add a new one — makes each "oldest" lookup skip up to tens of
 * thousands of holes (bench/RESULTS.md, coap: "Exchange cache"). Here the order lives in an array of keys with a moving head;
 * each entry knows the position of its one live slot, so slots of entries
 * deleted or set again are skipped when they reach the head, and the array
 * is compacted once it is mostly such slots.
 */
interface Slot<V> {
  readonly value: V;
  /** Absolute position of this entry's slot in the order. */
  readonly at: number;
}

const MIN_COMPACT = 1024;

export class FifoMap<K, V> {
  private readonly map = new Map<K, Slot<V>>();
  private order: K[] = [];
  /** Absolute position of order[0]. */
  private base = 0;
  /** Index in `order` of the oldest slot not yet consumed. */
  private head = 0;

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Sets `key` and makes it the newest entry (also when it was there before). */
  set(key: K, value: V): void {
    // Delete first so the map's own insertion order stays the order kept here (see rebuild).
    this.map.delete(key);
    this.map.set(key, { value, at: this.base + this.order.length });
    this.order.push(key);
    this.compactIfSparse();
  }

  delete(key: K): boolean {
    if (!this.map.delete(key)) return false;
    this.compactIfSparse();
    return true;
  }

  /** The oldest entry's value, without removing it. */
  oldest(): V | undefined {
    return this.skipDead() ? this.map.get(this.order[this.head]!)!.value : undefined;
  }

  /** Removes and returns the oldest entry. */
  shift(): [K, V] | undefined {
    if (!this.skipDead()) return undefined;
    const key = this.order[this.head++]!;
    const slot = this.map.get(key)!;
    this.map.delete(key);
    return [key, slot.value];
  }

  /** Removes entries, oldest first, while `expired(value)` holds; `onRemove` sees each. */
  shiftWhile(expired: (value: V) => boolean, onRemove?: (key: K, value: V) => void): void {
    while (this.skipDead()) {
      const key = this.order[this.head]!;
      const slot = this.map.get(key)!;
      if (!expired(slot.value)) return;
      this.head++;
      this.map.delete(key);
      onRemove?.(key, slot.value);
    }
    this.compactIfSparse();
  }

  clear(): void {
    this.map.clear();
    this.order = [];
    this.base = 0;
    this.head = 0;
  }

  /** Moves the head past dead slots; false when nothing is left. */
  private skipDead(): boolean {
    const { order, map } = this;
    while (this.head < order.length) {
      if (map.get(order[this.head]!)?.at === this.base + this.head) return true;
      this.head++;
    }
    this.compactIfSparse();
    return false;
  }

  private compactIfSparse(): void {
    const slots = this.order.length - this.head;
    if (slots > MIN_COMPACT && slots > 2 * this.map.size) this.rebuild();
    else if (this.head > MIN_COMPACT && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.base += this.head;
      this.head = 0;
    }
  }

  /** Rebuilds the order from the map, whose insertion order equals it (set deletes before it inserts). */
  private rebuild(): void {
    const start = this.base + this.order.length;
    const order: K[] = [];
    for (const [key, slot] of this.map) {
      this.map.set(key, { value: slot.value, at: start + order.length });
      order.push(key);
    }
    this.order = order;
    this.base = start;
    this.head = 0;
  }
}

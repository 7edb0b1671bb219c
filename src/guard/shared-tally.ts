/**
 * Per-name amounts in fixed windows, shared by the gateway nodes through
 * the state layer's Counters: each node counts locally (`note`), and every
 * {@link FLUSH_MS} adds what it counted since to the window's shared counter
 * and learns the cluster's total, and with it the other nodes' part it has
 * not seen before. The shared rate counters (shared-rate-counter.ts) and
 * the shared scores and flap counts (shared-detectors.ts) are built on it.
 *
 * The window is cut by this node's clock and is part of the key; the store
 * keeps each counter for twice the window, so a cut by the store's clock
 * inside ours can only make a total smaller. A node learns the others' part
 * only when it has something of its own to add. While the store is
 * unreachable nothing is learnt and each node counts alone.
 */
import type { Counters } from '../state/counters.js';

/** How often each node adds its counts to the shared counters. */
export const FLUSH_MS = 250;

/** Names tracked at once per tally; beyond, new names are counted locally only. */
const MAX_NAMES = 100_000;

interface NameUse {
  pending: number;
  window: number;
  /** Added by this node in `window`. */
  own: number;
  /** Other nodes' amount in `window` already learnt. */
  others: number;
}

/** Per-name amounts in fixed windows, added to shared counters by every node. */
export class SharedTally {
  private readonly names = new Map<string, NameUse>();
  private flushing = false;

  /**
   * @param onTotal called per flushed name with the cluster's total in the window and
   *   the other nodes' part of it not reported before
   */
  constructor(
    private readonly counters: Counters,
    private readonly prefix: string,
    private readonly windowMs: () => number,
    private readonly onTotal: (name: string, total: number, othersNew: number) => void,
    private readonly now: () => number,
  ) {}

  /** Counts `n` for `name` in the current window (added to the shared counter at the next flush). */
  note(name: string, n: number): void {
    const u = this.names.get(name);
    if (u) u.pending += n;
    else if (this.names.size < MAX_NAMES) this.names.set(name, { pending: n, window: -1, own: 0, others: 0 });
  }

  get size(): number {
    return this.names.size;
  }

  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      const windowMs = this.windowMs();
      const window = Math.floor(this.now() / windowMs);
      const work: Promise<void>[] = [];
      for (const [name, u] of this.names) {
        if (u.pending === 0) {
          if (u.window !== window) this.names.delete(name);
          continue;
        }
        if (u.window !== window) Object.assign(u, { window, own: 0, others: 0 });
        const n = u.pending;
        u.pending = 0;
        u.own += n;
        // Twice the window in the store: a cut by the store's clock inside ours only lowers the total.
        work.push(
          this.counters.add(`guard:${this.prefix}:${window}:${name}`, n, 2 * windowMs).then(
            (total) => {
              if (u.window !== window) return;
              const othersNew = Math.max(0, total - u.own - u.others);
              u.others += othersNew;
              this.onTotal(name, total, othersNew);
            },
            () => undefined,
          ),
        );
      }
      await Promise.all(work);
    } finally {
      this.flushing = false;
    }
  }
}

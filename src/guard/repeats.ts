/**
 * Log aggregation for security events. Under attack one source repeats the
 * same violation thousands of times a second; the log gets the first event in
 * full, then one summary line per interval with the number of repeats it left
 * out. Counting is not affected: metrics count every event.
 */

/** What makes two events "the same": who, where, what and which rule. */
export interface RepeatKey {
  readonly listener: string;
  readonly kind: string;
  readonly clause?: string;
  readonly remoteAddress?: string;
}

/** One source's repeats, reported by a summary. */
export interface RepeatSummary extends RepeatKey {
  /** Events counted but not logged since the previous line for this key. */
  readonly suppressed: number;
  /** The detail of the last suppressed event. */
  readonly lastDetail: string;
}

/** Distinct keys tracked at once; beyond it, new sources share one key per listener and kind. */
export const MAX_TRACKED_SOURCES = 10_000;

/** Stands for "many sources" once {@link MAX_TRACKED_SOURCES} are tracked. */
export const MANY_SOURCES = '(many)';

interface Window {
  readonly key: RepeatKey;
  suppressed: number;
  lastDetail: string;
}

export class RepeatFilter {
  private readonly windows = new Map<string, Window>();
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param intervalMs how often summaries are written; 0 lets every event through
   * @param onSummary writes one summary line
   */
  constructor(
    private intervalMs: number,
    private readonly onSummary: (summary: RepeatSummary) => void,
  ) {}

  /** True when this event is to be logged in full; false when it was counted for the next summary. */
  first(event: RepeatKey & { readonly detail: string }): boolean {
    if (this.intervalMs <= 0) return true;
    let id = keyOf(event.listener, event.kind, event.clause, event.remoteAddress);
    let w = this.windows.get(id);
    if (w === undefined && this.windows.size >= MAX_TRACKED_SOURCES) {
      id = keyOf(event.listener, event.kind, event.clause, MANY_SOURCES);
      w = this.windows.get(id);
      if (w === undefined) {
        const key = { listener: event.listener, kind: event.kind, ...(event.clause !== undefined && { clause: event.clause }), remoteAddress: MANY_SOURCES };
        this.open(id, key);
        return true;
      }
    }
    if (w !== undefined) {
      w.suppressed++;
      w.lastDetail = event.detail;
      return false;
    }
    this.open(id, event);
    return true;
  }

  /** Writes the pending summaries and forgets every source (gateway stop, interval change). */
  flush(): void {
    for (const w of this.windows.values()) if (w.suppressed > 0) this.summarise(w);
    this.windows.clear();
    this.stopTimer();
  }

  /** Changes the interval (configuration reload); pending summaries are written first. */
  setInterval(ms: number): void {
    if (ms === this.intervalMs) return;
    this.flush();
    this.intervalMs = ms;
  }

  private open(id: string, key: RepeatKey): void {
    const { listener, kind, clause, remoteAddress } = key;
    this.windows.set(id, {
      key: { listener, kind, ...(clause !== undefined && { clause }), ...(remoteAddress !== undefined && { remoteAddress }) },
      suppressed: 0,
      lastDetail: '',
    });
    if (this.timer === undefined) {
      // unref'd: a summary is never a reason to keep the process alive; stop() flushes the last ones.
      this.timer = setInterval(this.tick, this.intervalMs);
      this.timer.unref();
    }
  }

  /** Once per interval: a summary per source that repeated, and sources that went quiet are forgotten. */
  private readonly tick = (): void => {
    for (const [id, w] of this.windows) {
      if (w.suppressed > 0) this.summarise(w);
      else this.windows.delete(id);
    }
    if (this.windows.size === 0) this.stopTimer();
  };

  private summarise(w: Window): void {
    const suppressed = w.suppressed;
    w.suppressed = 0;
    this.onSummary({ ...w.key, suppressed, lastDetail: w.lastDetail });
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

function keyOf(listener: string, kind: string, clause: string | undefined, remote: string | undefined): string {
  return `${listener}\u0000${kind}\u0000${clause ?? ''}\u0000${remote ?? ''}`;
}

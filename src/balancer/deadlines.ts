/**
 * Attempt deadlines on one shared timer instead of a timer per request.
 * Deadlines are grouped in buckets of TICK_MS; one timer is armed for the
 * earliest bucket, and a deadline fires at most TICK_MS late, never early.
 * Adding and removing a deadline is a Set operation; with thousands of
 * attempts a second this replaces as many timer objects and timer-list
 * insertions by about 1000 / TICK_MS timer callbacks a second.
 */
import { performance } from 'node:perf_hooks';

/** Resolution of attempt timeouts. */
export const TICK_MS = 10;

/** Something with a deadline. */
export interface Expiring {
  expire(): void;
}

/** The bucket a deadline was put in, to remove it again. */
export type DeadlineTicket = number;

export class Deadlines {
  private readonly buckets = new Map<number, Set<Expiring>>();
  private live = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Bucket the timer is armed for. */
  private armedFor = Number.POSITIVE_INFINITY;

  /** Calls `x.expire()` once `ms` have passed, unless removed before. */
  add(x: Expiring, ms: number): DeadlineTicket {
    const due = Math.ceil((performance.now() + ms) / TICK_MS) * TICK_MS;
    let bucket = this.buckets.get(due);
    if (bucket === undefined) this.buckets.set(due, (bucket = new Set()));
    bucket.add(x);
    this.live++;
    if (due < this.armedFor) this.arm(due);
    return due;
  }

  remove(x: Expiring, ticket: DeadlineTicket): void {
    const bucket = this.buckets.get(ticket);
    if (bucket === undefined || !bucket.delete(x)) return;
    if (bucket.size === 0) this.buckets.delete(ticket);
    // Nothing left to time: no timer keeps the process alive.
    if (--this.live === 0) this.disarm();
  }

  private arm(due: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedFor = due;
    this.timer = setTimeout(this.fire, Math.max(0, due - performance.now()));
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = performance.now();
    const due: Expiring[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const [at, bucket] of this.buckets) {
      if (at <= now) {
        for (const x of bucket) due.push(x);
        this.buckets.delete(at);
        this.live -= bucket.size;
      } else if (at < next) next = at;
    }
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
    for (const x of due) x.expire();
  };
}

/** The deadlines of every attempt of this process. */
export const attemptDeadlines = new Deadlines();

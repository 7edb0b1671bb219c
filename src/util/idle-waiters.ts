/**
 * Promises that resolve once some work has finished — the draining stop of
 * the pipeline and of each listener waits on one. The owner says what
 * "finished" means (`done`) and calls `check()` whenever it may have become
 * true (a message left the pipeline, a transmission ended).
 */
export class IdleWaiters {
  private waiters: Array<() => void> = [];

  constructor(private readonly done: () => boolean) {}

  /** Resolves once `done()` holds (at once if it already does), or after `timeoutMs` when one is given. */
  wait(timeoutMs?: number): Promise<void> {
    if (this.done()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(resolve, timeoutMs);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Wakes every waiter if `done()` now holds. */
  check(): void {
    if (this.waiters.length === 0 || !this.done()) return;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

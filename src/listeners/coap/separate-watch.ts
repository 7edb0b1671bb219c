/**
 * Separate responses (RFC 7252 §5.2.2): a CON request still in the pipeline
 * after `afterMs` is acknowledged with an empty ACK so the client stops
 * retransmitting; its response follows later as a CON of its own. One timer
 * watches every request (they finish roughly in arrival order), instead of
 * one timer per request on the hot path.
 */
import type { RequestContext } from './types.js';

export class SeparateWatch {
  private queue: Array<{ readonly ctx: RequestContext; readonly at: number }> = [];
  private head = 0;
  private timer?: NodeJS.Timeout;
  private readonly tickMs: number;

  constructor(
    private readonly afterMs: number,
    private readonly onSlow: (ctx: RequestContext) => void,
  ) {
    // Checking four times per period keeps the empty ACK within 1.25 × afterMs.
    this.tickMs = Math.max(5, Math.ceil(afterMs / 4));
  }

  add(ctx: RequestContext, now: number): void {
    this.queue.push({ ctx, at: now });
    if (!this.timer) this.timer = setTimeout(() => this.tick(), this.tickMs);
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    this.head = 0;
  }

  private tick(): void {
    this.timer = undefined;
    const now = Date.now();
    const q = this.queue;
    while (this.head < q.length) {
      const e = q[this.head]!;
      if (e.ctx.exchange.state === 'pending') {
        if (now - e.at < this.afterMs) break;
        this.onSlow(e.ctx);
      }
      this.head++;
    }
    if (this.head >= q.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
    if (this.queue.length > 0) this.timer = setTimeout(() => this.tick(), this.tickMs);
  }
}

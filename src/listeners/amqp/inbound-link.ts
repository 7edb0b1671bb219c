/**
 * One device sender link (our receiver): credit, transfers, settlement.
 *
 * Credit (AMQP 1.0 §2.6.7): the link never holds more than `maxInflight`
 * deliveries between credit granted and outcomes pending. Credit is granted
 * only as outcomes complete, so a slow back-end slows the device instead of
 * filling memory; an `unavailable` outcome keeps its slot back for a
 * back-off. rhea's own credit window and auto-accept are off.
 */
import type { Outcome } from '../../envelope/index.js';
import type { RheaIncomingDelivery, RheaReceiver } from './rhea-types.js';
import { dispositionFor, type AmqpDisposition } from './outcome-mapping.js';

export interface InboundLinkOptions {
  readonly maxInflight: number;
  readonly unavailableOutcome: 'released' | 'modified';
  readonly unavailableBackoffMs: number;
  /** Told +1 / -1 as this link's deliveries enter and leave the pipeline (the listener's drain count). */
  readonly onInflight?: (delta: number) => void;
}

export class InboundLink {
  /** Target address of the attach; undefined for the anonymous terminus (then each message's `to` is used). */
  readonly address: string | undefined;
  /** Deliveries handed to the pipeline whose outcome has not come back. */
  private pending = 0;
  private withheld = 0;
  private granted = 0;
  private received = 0;
  private closed = false;
  /** Set when the link was detached for an oversize message still arriving. */
  private oversize = false;
  private readonly batch: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** No credit is granted until the rate limits' buckets are out of debt (guard.limits). */
  private throttle: NodeJS.Timeout | undefined;
  private throttleUntil = 0;

  constructor(
    readonly receiver: RheaReceiver,
    private readonly options: InboundLinkOptions,
  ) {
    const addr = receiver.remote.attach?.target?.address;
    this.address = typeof addr === 'string' && addr.length > 0 ? addr : undefined;
    // Top up in batches while the device still has credit, so one flow frame covers several outcomes.
    this.batch = Math.max(1, Math.floor(options.maxInflight / 8));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Deliveries in the pipeline: each holds a credit slot until its outcome. */
  get inflight(): number {
    return this.pending;
  }

  /** A delivery enters the pipeline: it keeps its credit slot until `releaseInbound`. */
  reserveInbound(): void {
    this.pending++;
    this.options.onInflight?.(1);
  }

  /** A delivery's outcome came back: its slot may be granted again at the next `topUp`. */
  releaseInbound(): void {
    this.pending--;
    this.options.onInflight?.(-1);
  }

  /** Marks the link detached for an oversize message still arriving; true the first time only. */
  markOversize(): boolean {
    if (this.oversize) return false;
    this.oversize = true;
    return true;
  }

  /** Counts a transfer; false when the peer sent beyond the credit it was given (§2.6.7). */
  onTransfer(): boolean {
    this.received++;
    return this.received <= this.granted;
  }

  /** Grants credit up to the limit; `paused` (draining, not yet admitted) grants none. */
  topUp(paused: boolean): void {
    if (paused || this.closed || this.throttle) return;
    const credit = this.receiver.credit;
    const deficit = this.options.maxInflight - credit - this.pending - this.withheld;
    if (deficit <= 0 || (deficit < this.batch && credit > 0)) return;
    this.granted += deficit;
    this.receiver.add_credit(deficit);
  }

  /**
   * Settles one unsettled delivery from its outcome and returns the
   * disposition sent. An unavailable outcome withholds one credit for the
   * back-off, then `onBackoffEnd` runs.
   */
  settle(delivery: RheaIncomingDelivery, outcome: Outcome, onBackoffEnd: () => void): AmqpDisposition {
    const d = dispositionFor(outcome, this.options.unavailableOutcome);
    if (outcome.kind === 'unavailable') this.withhold(outcome.retryAfterMs, onBackoffEnd);
    if (this.closed) return d;
    switch (d.state) {
      case 'accepted':
        delivery.accept();
        break;
      case 'rejected':
        delivery.reject({ condition: d.error.condition, description: d.error.description });
        break;
      case 'released':
        delivery.release();
        break;
      case 'modified':
        delivery.release({ delivery_failed: true });
        break;
    }
    return d;
  }

  /** Keeps one credit back after an unavailable outcome, so a struggling pool is not refilled at once. */
  private withhold(retryAfterMs: number | undefined, done: () => void): void {
    const ms = Math.min(retryAfterMs ?? this.options.unavailableBackoffMs, this.options.unavailableBackoffMs);
    if (ms <= 0 || this.closed) return;
    this.withheld++;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.withheld--;
      done();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /**
   * Over a rate limit: no new credit for `ms`, then `done` (which tops up).
   * Credit already granted stays the device's (at most `maxInflight`), so
   * nothing it sent is refused; it just runs dry (AMQP 1.0 §2.6.7).
   */
  withholdCredit(ms: number, done: () => void): void {
    const until = Date.now() + ms;
    if (this.closed || until <= this.throttleUntil) return;
    this.throttleUntil = until;
    clearTimeout(this.throttle);
    this.throttle = setTimeout(() => {
      this.throttle = undefined;
      done();
    }, ms);
    this.throttle.unref();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.throttle);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Bytes of a delivery still arriving in several transfer frames. */
  incompleteBytes(): number {
    const frames = this.receiver._incomplete?.frames;
    if (!frames) return 0;
    let n = 0;
    for (const f of frames) n += f ? f.length : 0;
    return n;
  }
}

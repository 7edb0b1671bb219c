/**
 * The recent security and failure events, kept in a bounded ring for the
 * admin API and dashboard, with subscribers for the live stream. Events are
 * the operator's view: the same facts are also logged and counted.
 */

export interface EventInput {
  /** 'security' (a protocol violation or abuse, from the guard), 'failure' (a message rejected, unavailable or without a route) or 'command' (a southbound command changed state). */
  readonly category: 'security' | 'failure' | 'command';
  /** Machine name: the guard's kind ('malformed-packet', …) or the outcome ('rejected', 'unavailable'). */
  readonly kind: string;
  readonly listener?: string;
  readonly clientId?: string;
  readonly remoteAddress?: string;
  readonly detail: string;
  readonly [extra: string]: unknown;
}

export interface GatewayEvent extends EventInput {
  /** Increasing sequence number; `GET /api/v1/events?since=N` returns the later ones. */
  readonly seq: number;
  /** ISO 8601 time. */
  readonly at: string;
}

export class EventLog {
  private readonly ring: Array<GatewayEvent | undefined>;
  private next = 0;
  private readonly subscribers = new Set<(e: GatewayEvent) => void>();

  constructor(private readonly capacity: number) {
    this.ring = new Array<GatewayEvent | undefined>(capacity);
  }

  push(input: EventInput): GatewayEvent {
    const event: GatewayEvent = { seq: this.next + 1, at: new Date().toISOString(), ...input };
    this.ring[this.next % this.capacity] = event;
    this.next++;
    for (const s of this.subscribers) s(event);
    return event;
  }

  /** Events after `since` (oldest first), at most `limit` of the newest. */
  recent(options: { since?: number; limit?: number; category?: string } = {}): GatewayEvent[] {
    const out: GatewayEvent[] = [];
    const first = Math.max(0, this.next - this.capacity);
    for (let i = first; i < this.next; i++) {
      const e = this.ring[i % this.capacity]!;
      if (options.since !== undefined && e.seq <= options.since) continue;
      if (options.category !== undefined && e.category !== options.category) continue;
      out.push(e);
    }
    return options.limit !== undefined && out.length > options.limit ? out.slice(out.length - options.limit) : out;
  }

  /** Calls `fn` for every new event; returns the unsubscribe function. */
  subscribe(fn: (e: GatewayEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }
}

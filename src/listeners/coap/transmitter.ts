/**
 * Reliable transmission of the CON messages thinggate originates (separate
 * responses, notifications): retransmission with exponential back-off until
 * an ACK or RST arrives or MAX_RETRANSMIT is exhausted (RFC 7252 §4.2), and
 * at most one outstanding CON per peer (NSTART = 1, RFC 7252 §4.7) with a
 * bounded queue behind it.
 */
import type { Peer } from './peers.js';

export type TransmitResult = 'ack' | 'rst' | 'timeout' | 'cancelled';

interface Outgoing {
  readonly peer: Peer;
  readonly messageId: number;
  readonly bytes: Buffer;
  readonly done: (result: TransmitResult) => void;
  attempts: number;
  timeoutMs: number;
  timer?: NodeJS.Timeout;
}

export interface TransmitParams {
  readonly ackTimeoutMs: number;
  readonly ackRandomFactor: number;
  readonly maxRetransmit: number;
  /** CON messages waiting behind the outstanding one, per peer. */
  readonly queueLimit: number;
}

export class Transmitter {
  /** The outstanding CON per peer key. */
  private readonly active = new Map<string, Outgoing>();
  private readonly queues = new Map<string, Outgoing[]>();
  retransmissions = 0;

  constructor(
    private readonly params: TransmitParams,
    private readonly write: (peer: Peer, bytes: Buffer) => void,
    /** Called after a transmission ends (a draining listener waits for none to be left). */
    private readonly onSettled: () => void = () => undefined,
    /** Called on every retransmission (counted as an event). */
    private readonly onRetransmit: () => void = () => undefined,
  ) {}

  /** Sends a CON; `done` is called once with how it ended. False when the peer's queue is full (nothing sent). */
  send(peer: Peer, messageId: number, bytes: Buffer, done: (result: TransmitResult) => void): boolean {
    const o: Outgoing = { peer, messageId, bytes, done, attempts: 0, timeoutMs: 0 };
    if (this.active.has(peer.key)) {
      let q = this.queues.get(peer.key);
      if (!q) this.queues.set(peer.key, (q = []));
      if (q.length >= this.params.queueLimit) return false;
      q.push(o);
    } else {
      this.start(o);
    }
    peer.holds++;
    return true;
  }

  /** An ACK or RST for a message id from a peer; true when it matched our outstanding CON. */
  settle(peerKey: string, messageId: number, result: 'ack' | 'rst'): boolean {
    const o = this.active.get(peerKey);
    if (!o || o.messageId !== messageId) return false;
    this.finish(o, result);
    return true;
  }

  /** Ends every transmission (listener stopping). */
  cancelAll(): void {
    for (const q of this.queues.values()) for (const o of q) this.end(o, 'cancelled');
    this.queues.clear();
    for (const o of [...this.active.values()]) {
      clearTimeout(o.timer);
      this.active.delete(o.peer.key);
      this.end(o, 'cancelled');
    }
  }

  get outstanding(): number {
    return this.active.size;
  }

  private start(o: Outgoing): void {
    this.active.set(o.peer.key, o);
    const { ackTimeoutMs, ackRandomFactor } = this.params;
    // RFC 7252 §4.2: initial timeout random in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR].
    o.timeoutMs = ackTimeoutMs + Math.random() * ackTimeoutMs * (ackRandomFactor - 1);
    this.write(o.peer, o.bytes);
    o.timer = setTimeout(() => this.onTimeout(o), o.timeoutMs);
  }

  private onTimeout(o: Outgoing): void {
    if (o.attempts >= this.params.maxRetransmit) {
      this.finish(o, 'timeout');
      return;
    }
    o.attempts++;
    this.retransmissions++;
    this.onRetransmit();
    o.timeoutMs *= 2; // RFC 7252 §4.2: the timeout is doubled on every retransmission
    this.write(o.peer, o.bytes);
    o.timer = setTimeout(() => this.onTimeout(o), o.timeoutMs);
  }

  private finish(o: Outgoing, result: TransmitResult): void {
    clearTimeout(o.timer);
    this.active.delete(o.peer.key);
    const q = this.queues.get(o.peer.key);
    const next = q?.shift();
    if (q && q.length === 0) this.queues.delete(o.peer.key);
    this.end(o, result);
    if (next) this.start(next);
    this.onSettled();
  }

  private end(o: Outgoing, result: TransmitResult): void {
    o.peer.holds--;
    o.done(result);
  }
}

/**
 * Slow and stuck peers, on every TCP listener (guard.slowPeers):
 *
 * - slow drip: a packet (MQTT packet, AMQP frame, HTTP request) is partly
 *   received, thinggate is reading, and fewer than `minBytesPerSecond`
 *   arrive over `windowSeconds` — the slowloris pattern, which holds a
 *   connection slot and a partial buffer for ever at almost no cost to the
 *   peer;
 * - not reading: the connection's outbound bytes not yet taken by the peer
 *   pass `maxOutboundBytes`, so its memory would grow without bound.
 *
 * Either is a `slow-client` security event (scored), and the connection is
 * closed. Connections are sampled a few times per window by one timer.
 *
 * Every open connection is registered here, also while the detectors are
 * off or its address is exempt, so that a new ban can close the connections
 * it covers ({@link PeerWatch.closeWhere}).
 */
import type { GuardConfig } from '../config/types.js';

export interface WatchedPeer {
  readonly listener: string;
  readonly remoteAddress: string;
  clientId(): string | undefined;
  /** Bytes received so far. */
  bytesIn(): number;
  /** A packet is partly received and thinggate is reading (not paused for its own reasons). */
  receiving(): boolean;
  /** Bytes written to the connection that the peer has not taken yet. */
  outboundBytes(): number;
  /** Closes the connection (the event is reported first). */
  close(why: 'slow-drip' | 'not-reading' | 'banned'): void;
}

export type SlowPeerConfig = GuardConfig['slowPeers'];

interface Mark {
  at: number;
  bytes: number;
}

export class PeerWatch {
  /** Connections the detectors sample, with their last mark. */
  private readonly peers = new Map<WatchedPeer, Mark | undefined>();
  /** Every open connection, sampled or not (exempt addresses, detectors off). */
  private readonly open = new Set<WatchedPeer>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private config: SlowPeerConfig,
    private readonly onSlow: (peer: WatchedPeer, why: 'slow-drip' | 'not-reading', detail: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  configure(config: SlowPeerConfig): void {
    this.config = config;
    if (this.timer) {
      this.stopTimer();
      this.startTimer();
    }
  }

  /**
   * Registers `peer` until the returned function is called (connection
   * closed); `sample` false (an exempt address) only registers it.
   */
  watch(peer: WatchedPeer, sample = true): () => void {
    this.open.add(peer);
    const sampled = sample && this.config.enabled;
    if (sampled) {
      this.peers.set(peer, undefined);
      if (!this.timer) this.startTimer();
    }
    return () => {
      this.open.delete(peer);
      if (!sampled) return;
      this.peers.delete(peer);
      if (this.peers.size === 0) this.stopTimer();
    };
  }

  /** Closes every open connection `covered` says yes to (a new ban's); returns how many. */
  closeWhere(covered: (peer: WatchedPeer) => boolean): number {
    let n = 0;
    for (const peer of [...this.open]) {
      if (!covered(peer)) continue;
      this.open.delete(peer);
      this.peers.delete(peer);
      peer.close('banned');
      n++;
    }
    return n;
  }

  /** One sample of every watched connection (the timer's; tests call it with an injected clock). */
  check(): void {
    const { minBytesPerSecond, windowSeconds, maxOutboundBytes } = this.config;
    const t = this.now();
    for (const [peer, mark] of this.peers) {
      const out = peer.outboundBytes();
      if (maxOutboundBytes > 0 && out > maxOutboundBytes) {
        this.flag(peer, 'not-reading', `${out} bytes written and not read by the peer (guard.slowPeers.maxOutboundBytes ${maxOutboundBytes})`);
        continue;
      }
      if (minBytesPerSecond <= 0 || !peer.receiving()) {
        this.peers.set(peer, undefined);
        continue;
      }
      const bytes = peer.bytesIn();
      if (!mark) {
        this.peers.set(peer, { at: t, bytes });
        continue;
      }
      const seconds = (t - mark.at) / 1000;
      if (seconds < windowSeconds) continue;
      const rate = (bytes - mark.bytes) / seconds;
      if (rate < minBytesPerSecond) {
        this.flag(
          peer,
          'slow-drip',
          `a packet in progress received at ${rate.toFixed(1)} bytes/s for ${seconds.toFixed(1)} s (guard.slowPeers.minBytesPerSecond ${minBytesPerSecond})`,
        );
        continue;
      }
      this.peers.set(peer, { at: t, bytes });
    }
  }

  /** Connections the detectors sample. */
  get size(): number {
    return this.peers.size;
  }

  private flag(peer: WatchedPeer, why: 'slow-drip' | 'not-reading', detail: string): void {
    this.peers.delete(peer);
    this.onSlow(peer, why, detail);
  }

  private startTimer(): void {
    // A few samples per window: a drip is caught between one and 1.25 windows after it starts.
    const every = Math.max(50, (this.config.windowSeconds * 1000) / 4);
    this.timer = setInterval(() => this.check(), every);
    this.timer.unref();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * Per-source state of the CoAP listener. A CoAP "client" is a UDP endpoint
 * (address:port, RFC 7252 §4.4 matches messages per endpoint): whether it
 * has proven it receives what we send (RFC 9175 §2.4 amplification
 * mitigation), its admission, and the message ids thinggate uses toward it.
 * Its request rate is counted per source address instead (source-rate.ts),
 * since a client may change its port at will.
 */
import { createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Admission } from '../listener.js';
import type { Identity, TlsInfo } from '../../envelope/index.js';
import { SourceRateLimiter } from './source-rate.js';

export interface Peer {
  /** `address:port` (`[v6]:port`); the client id unless an identity says otherwise. */
  readonly key: string;
  /** Small unique number of this source in this listener (exchange keys). */
  readonly id: number;
  readonly address: string;
  readonly port: number;
  /** The key of its request rate: the address, or its IPv6 prefix (source-rate.ts). */
  readonly rateKey: string;
  /** `key`, or the `clientId` attribute of the identity admission attached. */
  clientId: string;
  identity?: Identity;
  /** DTLS handshake facts of the source's association (coaps only). */
  tls?: TlsInfo;
  lastSeen: number;
  /** The source answered something only a receiver of our datagrams could (RFC 9175 §2.4). */
  verified: boolean;
  admission?: Admission | Promise<Admission>;
  /** Next message id for messages thinggate originates toward this peer (RFC 7252 §4.4: random start). */
  nextMessageId: number;
  /** Observations and pending CON transmissions hold a peer in the table. */
  holds: number;
  /** Requests of this source in the pipeline (bounded by `limits.maxInflight`). */
  inflight: number;
}

/** Echo values are valid for the current and the previous window (RFC 9175 §2.3 freshness). */
const ECHO_WINDOW_MS = 60_000;

export function peerKey(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export class PeerTable {
  private readonly peers = new Map<string, Peer>();
  private readonly secret = randomBytes(32);
  private nextId = 1;
  private readonly rate: SourceRateLimiter;

  constructor(
    private readonly limits: {
      readonly maxPeers: number;
      readonly idleMs: number;
      readonly ratePerSecond: number;
      readonly burst: number;
      readonly ipv6PrefixBits: number;
    },
  ) {
    this.rate = new SourceRateLimiter({
      ratePerSecond: limits.ratePerSecond,
      burst: limits.burst,
      ipv6PrefixBits: limits.ipv6PrefixBits,
      maxSources: limits.maxPeers,
    });
  }

  get size(): number {
    return this.peers.size;
  }

  get(key: string): Peer | undefined {
    return this.peers.get(key);
  }

  /** The peer for a source, created on first sight; undefined when the table is full of active peers. */
  touch(address: string, port: number, now: number): Peer | undefined {
    const key = peerKey(address, port);
    let p = this.peers.get(key);
    if (p) {
      p.lastSeen = now;
      return p;
    }
    if (this.peers.size >= this.limits.maxPeers) {
      this.sweep(now);
      if (this.peers.size >= this.limits.maxPeers) return undefined;
    }
    p = {
      key,
      id: this.nextId++,
      address,
      port,
      rateKey: this.rate.keyOf(address),
      clientId: key,
      lastSeen: now,
      verified: false,
      nextMessageId: randomInt(0x10000),
      holds: 0,
      inflight: 0,
    };
    this.peers.set(key, p);
    return p;
  }

  /** Takes one request token of the peer's source address; false when it is over its rate. */
  take(p: Peer, now: number): boolean {
    return this.rate.take(p.rateKey, now);
  }

  /** Milliseconds until the peer's source has a token again (for Max-Age on 4.29). */
  retryAfterMs(p: Peer): number {
    return this.rate.retryAfterMs(p.rateKey);
  }

  /** True at most once a second per source address: whether to report its limiting. */
  shouldReportLimit(p: Peer, now: number): boolean {
    return this.rate.shouldReport(p.rateKey, now);
  }

  /** A fresh Echo option value for this peer (RFC 9175 §2.3). */
  echoFor(p: Peer, now: number): Buffer {
    return this.mac(p.key, Math.floor(now / ECHO_WINDOW_MS));
  }

  /** True when `value` is an Echo value this listener issued to this peer recently. */
  checkEcho(p: Peer, value: Buffer, now: number): boolean {
    if (value.length !== 8) return false;
    const w = Math.floor(now / ECHO_WINDOW_MS);
    return timingSafeEqual(value, this.mac(p.key, w)) || timingSafeEqual(value, this.mac(p.key, w - 1));
  }

  /** The next message id toward a peer. */
  messageId(p: Peer): number {
    const id = p.nextMessageId;
    p.nextMessageId = (id + 1) & 0xffff;
    return id;
  }

  /** Forgets peers idle longer than the idle timeout that hold nothing. */
  sweep(now: number): void {
    const limit = now - this.limits.idleMs;
    for (const [k, p] of this.peers) if (p.lastSeen < limit && p.holds === 0 && p.inflight === 0) this.peers.delete(k);
    this.rate.sweep(now);
  }

  /** Forgets one source at once (its DTLS association ended or was replaced). */
  remove(key: string): void {
    this.peers.delete(key);
  }

  clear(): void {
    this.peers.clear();
    this.rate.clear();
  }

  private mac(key: string, window: number): Buffer {
    return createHmac('sha256', this.secret).update(`${key}|${window}`).digest().subarray(0, 8);
  }
}

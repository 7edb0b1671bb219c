/**
 * The DTLS session cache: what an abbreviated handshake (RFC 5246 §7.3,
 * resumption by session id) needs of an earlier full one. Bounded in number
 * (the least recently stored goes first) and in age.
 */
import type { X509Certificate } from 'node:crypto';

export interface ResumableSession {
  readonly master: Buffer;
  /** Cipher suite id; a resumption keeps it (RFC 5246 §7.4.1.2). */
  readonly suite: number;
  /** Whether the master secret is the extended one (RFC 7627 §5.3: a resumption must agree). */
  readonly ems: boolean;
  readonly pskIdentity?: string;
  /** The PSK the session was made with: a key changed in the configuration since ends resumption. */
  readonly psk?: Buffer;
  readonly clientCert?: X509Certificate;
  /** When the full handshake finished (epoch ms). */
  readonly at: number;
}

export class SessionCache {
  private readonly entries = new Map<string, ResumableSession>();

  constructor(
    private readonly max: number,
    private readonly lifetimeMs: number,
    private readonly now: () => number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  put(id: Buffer, session: ResumableSession): void {
    const k = id.toString('hex');
    this.entries.delete(k);
    while (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(k, session);
  }

  /** The session stored under `id` unless it is older than the lifetime. */
  get(id: Buffer): ResumableSession | undefined {
    const k = id.toString('hex');
    const s = this.entries.get(k);
    if (s && this.now() - s.at > this.lifetimeMs) {
      this.entries.delete(k);
      return undefined;
    }
    return s;
  }
}

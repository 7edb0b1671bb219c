/** The DTLS server's configuration, resolved from the listener's `dtls` section (listeners/coap/dtls-config.ts). */
import type { X509Certificate } from 'node:crypto';
import type { ServerCredential } from './cert.js';
import type { Crl } from './crl.js';

export interface DtlsServerConfig {
  /** PSK identity → key (RFC 4279); empty disables the PSK suites. */
  readonly psk: ReadonlyMap<string, Buffer>;
  /** Server certificate and P-256 key; absent disables the ECDHE_ECDSA suites. */
  readonly credential?: ServerCredential;
  /** CAs a client certificate must chain to; non-empty makes client certificates required in certificate mode. */
  readonly ca: readonly X509Certificate[];
  /** Revocation lists of CAs in `ca`; non-empty makes every client certificate's issuer need one (crl.ts). */
  readonly crls: readonly Crl[];
  /** Largest datagram the server sends (handshake flights are fragmented to fit, RFC 6347 §4.1.1.1). */
  readonly mtu: number;
  /** Initial flight retransmission timer (RFC 6347 §4.2.4.1: 1 s). */
  readonly retransmitMs: number;
  /** A handshake not finished within this is dropped. */
  readonly handshakeTimeoutMs: number;
  /** Handshakes in progress (past the cookie exchange) at most; beyond, ClientHellos are dropped. */
  readonly maxHandshakes: number;
  /** Established associations at most. */
  readonly maxSessions: number;
  /** An association with no record from its client for this long is closed. */
  readonly sessionIdleMs: number;
  /** Sessions kept for resumption (RFC 5246 §7.3); 0: none. */
  readonly sessionCacheSize: number;
  readonly sessionLifetimeMs: number;
  /** How often the cookie secret changes (RFC 6347 §4.2.1). */
  readonly cookieRotateMs: number;
}

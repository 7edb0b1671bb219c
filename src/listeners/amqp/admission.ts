/**
 * Admission of an AMQP connection, run when its open frame arrives: what the
 * authenticator sees, and the identity that envelopes then carry.
 */
import type { Identity, TlsInfo } from '../../envelope/index.js';
import type { Admission, ClientInfo } from '../listener.js';
import type { SaslResult } from './sasl.js';

interface Peer {
  readonly remoteAddress: string;
  readonly remotePort: number | undefined;
  readonly tls: TlsInfo | undefined;
}

/** The ClientInfo for the authenticator: the container-id as client id, and what SASL captured. */
export function clientInfo(listener: string, clientId: string, peer: Peer, sasl: SaslResult): ClientInfo {
  return {
    protocol: 'amqp',
    listener,
    clientId,
    remoteAddress: peer.remoteAddress,
    ...(peer.remotePort !== undefined && { remotePort: peer.remotePort }),
    ...(sasl.username !== undefined && { username: sasl.username }),
    ...(sasl.password !== undefined && { password: sasl.password }),
    ...(sasl.mechanism !== undefined && { mechanism: sasl.mechanism }),
    ...(peer.tls !== undefined && { tls: peer.tls }),
  };
}

/**
 * The identity envelopes carry: only one an admission step verified (an
 * authenticator, or an `onConnect` script that returned one). A SASL PLAIN
 * user name on its own is an unverified claim: SASL here only captures what
 * the peer presents (sasl.ts), so without such a step the connection is
 * anonymous and the name stays a hint for admission and logs.
 */
export function identityOf(admission: Admission & { ok: true }): Identity | undefined {
  return admission.identity;
}

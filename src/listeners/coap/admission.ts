/**
 * Admission of a CoAP source. CoAP has no connection, so a source
 * (address:port) is admitted once, on its first request, through the same
 * `Pipeline.admit` every listener uses; the result is kept with the source
 * until it is forgotten. A temporary failure (503) is not kept.
 */
import type { Admission } from '../listener.js';
import type { CoapCore } from './core.js';
import type { Peer } from './peers.js';

export function admit(core: CoapCore, peer: Peer): Promise<Admission> {
  const pending = peer.admission;
  if (pending instanceof Promise) return pending;
  if (pending !== undefined) return Promise.resolve(pending);
  const p = core.pipeline
    .admit({
      protocol: 'coap',
      listener: core.name,
      clientId: peer.key,
      remoteAddress: peer.address,
      remotePort: peer.port,
      ...(peer.tls && { tls: peer.tls }),
    })
    .catch((err: unknown): Admission => {
      core.logger.error({ err }, 'admission failed unexpectedly');
      return { ok: false, status: 503, reason: 'admission unavailable' };
    })
    .then((a) => {
      if (a.ok) {
        peer.admission = a;
        // A PSK the DTLS handshake verified names the principal when no authenticator did (docs/coap.md).
        const psk = peer.tls?.pskIdentity;
        if (!a.identity && psk !== undefined) peer.identity = { principal: psk, method: 'psk', attributes: {} };
        if (a.identity) {
          peer.identity = a.identity;
          // An identity may name the client id; otherwise it stays address:port.
          const named = a.identity.attributes['clientId'];
          if (named) peer.clientId = named;
        }
      } else if (a.status === 503) {
        peer.admission = undefined;
      } else {
        peer.admission = a;
        core.report({ kind: 'auth-failure', remoteAddress: peer.address, clientId: peer.key, detail: a.reason });
      }
      return a;
    });
  peer.admission = p;
  return p;
}

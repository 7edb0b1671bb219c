/**
 * Re-encryption checks toward back-ends: certificate pinning for HTTPS
 * pools, and the warning that decrypted device data leaves in clear when a
 * route takes a TLS listener's messages to a plain-http pool.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { GatewayConfig, ListenerConfig, RouteConfig } from '../config/types.js';

/**
 * A `checkServerIdentity` that first checks the name as usual, then that the
 * certificate matches one pin: its SHA-256 fingerprint (`AB:CD:…`, as
 * openssl prints it) or the SHA-256 of its public key (`sha256/<base64>`,
 * the RFC 7469 pin form, which survives re-issuing with the same key).
 */
export function pinnedIdentity(pins: readonly string[]): (host: string, cert: PeerCertificate) => Error | undefined {
  const wanted = new Set(pins.map((p) => (p.startsWith('sha256/') ? p : p.toUpperCase())));
  return (host, cert) => {
    const err = checkServerIdentity(host, cert);
    if (err) return err;
    // node's `pubkey` is SPKI for RSA but the bare point for EC keys: take the SubjectPublicKeyInfo from the certificate itself.
    const spki = cert.raw ? new X509Certificate(cert.raw).publicKey.export({ type: 'spki', format: 'der' }) : undefined;
    const keyPin = spki ? `sha256/${createHash('sha256').update(spki).digest('base64')}` : undefined;
    if (wanted.has(cert.fingerprint256.toUpperCase()) || (keyPin !== undefined && wanted.has(keyPin))) return undefined;
    return Object.assign(new Error(`certificate of ${host} matches no pin (fingerprint ${cert.fingerprint256}${keyPin ? `, key ${keyPin}` : ''})`), {
      code: 'ERR_TLS_PIN_MISMATCH',
    });
  };
}

/** Whether a route may carry messages from `l` (its listener, protocol and, for mqtt-ws, protocol family). */
function carries(route: RouteConfig, l: ListenerConfig): boolean {
  if (route.match.listener !== undefined && route.match.listener !== l.name) return false;
  const family = l.protocol === 'mqtt-ws' ? 'mqtt' : l.protocol;
  return route.match.protocol === undefined || route.match.protocol === family;
}

/**
 * One line per route that takes a TLS listener's messages to a pool with a
 * plain `http://` endpoint, unless the pool says `allowPlaintext: true`.
 * A script route is judged by its default pool (a script may name others).
 */
export function plaintextUpstreamWarnings(config: GatewayConfig): string[] {
  const tlsListeners = config.listeners.filter((l) => l.tls !== undefined);
  const out: string[] = [];
  config.routes.forEach((r, i) => {
    const from = tlsListeners.filter((l) => carries(r, l));
    if (from.length === 0) return;
    const name = r.name ?? `routes[${i}]`;
    for (const [poolName, what] of [
      [r.pool, 'takes messages'],
      [r.mirror?.pool, 'mirrors decrypted copies'],
    ] as const) {
      const pool = poolName === undefined ? undefined : config.pools.find((p) => p.name === poolName);
      if (!pool || pool.allowPlaintext) continue;
      const plain = pool.endpoints.filter((e) => e.url.startsWith('http:'));
      if (plain.length === 0) continue;
      out.push(
        `route '${name}' ${what} from TLS listener(s) ${from.map((l) => `'${l.name}'`).join(', ')} to pool '${pool.name}' over plain http (${plain.map((e) => e.url).join(', ')}): decrypted device data leaves in clear; use https or set allowPlaintext: true on the pool`,
      );
    }
  });
  return out;
}

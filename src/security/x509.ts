/**
 * `x509` authenticator: the client certificate verified in the TLS
 * handshake (mTLS, listener `tls.ca` + `requestCert`) names the principal,
 * from the subject CN or a subject alternative name. Optional pinning
 * admits only the listed SHA-256 fingerprints. No certificate, or one the
 * handshake did not verify, passes to the next step.
 */
import { timingSafeEqual } from 'node:crypto';
import type { ClientInfo } from '../envelope/index.js';
import { NEXT, deny, type AuthResult, type Authenticator } from './authenticator.js';

export interface X509AuthOptions {
  /** `cn`, or a SAN type: `dns`, `uri`, `email`. */
  readonly principalFrom: 'cn' | 'dns' | 'uri' | 'email';
  /** Pinned SHA-256 fingerprints (`AB:CD:...`, case and colons ignored); empty admits any verified certificate. */
  readonly fingerprints: readonly string[];
  readonly groups: readonly string[];
}

const SAN_PREFIX = { dns: 'DNS:', uri: 'URI:', email: 'email:' } as const;

export class X509Authenticator implements Authenticator {
  readonly type = 'x509';
  private readonly pins: readonly Buffer[];

  constructor(private readonly options: X509AuthOptions) {
    this.pins = options.fingerprints.map(fingerprintBytes);
  }

  authenticate(client: ClientInfo): AuthResult {
    const tls = client.tls;
    if (tls?.peerVerified !== true || tls.peerFingerprint256 === undefined) return NEXT;
    if (this.pins.length > 0) {
      const fp = fingerprintBytes(tls.peerFingerprint256);
      // Every pin is compared, in constant time, whatever the first result.
      let pinned = false;
      for (const pin of this.pins) if (pin.length === fp.length && timingSafeEqual(pin, fp)) pinned = true;
      if (!pinned) return deny(403, 'client certificate is not pinned');
    }
    const principal = this.principalOf(tls.peerCommonName, tls.peerAltNames);
    if (principal === undefined)
      return deny(403, `client certificate has no ${this.options.principalFrom === 'cn' ? 'subject CN' : `${this.options.principalFrom} SAN`}`);
    return {
      kind: 'allow',
      identity: Object.freeze({
        principal,
        method: 'certificate',
        attributes: Object.freeze({ fingerprint: tls.peerFingerprint256 }),
        groups: this.options.groups,
      }),
    };
  }

  private principalOf(cn: string | undefined, altNames: string | undefined): string | undefined {
    const from = this.options.principalFrom;
    if (from === 'cn') return cn !== undefined && cn.length > 0 ? cn : undefined;
    const prefix = SAN_PREFIX[from];
    for (const part of (altNames ?? '').split(/,\s*/)) if (part.startsWith(prefix) && part.length > prefix.length) return part.slice(prefix.length);
    return undefined;
  }
}

function fingerprintBytes(text: string): Buffer {
  return Buffer.from(text.replace(/[:\s]/g, '').toLowerCase(), 'hex');
}

/**
 * Certificate mode (RFC 8422 ECDHE_ECDSA, RFC 7252 §9.1.3.3): the server's
 * P-256 credential, the ServerKeyExchange signature, the CertificateRequest,
 * and the client's chain verified against the configured CAs with its facts
 * for the envelope (as TLS listeners report them).
 */
import { X509Certificate, sign, verify, type KeyObject } from 'node:crypto';
import type { PeerCertificate } from '../../envelope/index.js';
import { serialKey, type Crl } from './crl.js';
import { Reader, u16, vec16, vec24, vec8 } from './wire.js';

export interface ServerCredential {
  /** DER certificates, leaf first. */
  readonly chain: readonly Buffer[];
  /** The leaf's private key; P-256 (ECDSA). */
  readonly key: KeyObject;
}

/** ecdsa_secp256r1_sha256, rsa_pkcs1_sha256 (RFC 5246 §7.4.1.4.1 hash 4 = sha256; sig 3 = ecdsa, 1 = rsa). */
const ECDSA_SHA256 = 0x0403;
const RSA_SHA256 = 0x0401;

/** Certificate message body: a vector of DER certificates (RFC 5246 §7.4.2). */
export function certificateMessage(chain: readonly Buffer[]): Buffer {
  return vec24(Buffer.concat(chain.map((c) => vec24(c))));
}

export function parseCertificateMessage(body: Buffer): Buffer[] {
  const list = new Reader(new Reader(body).vec24());
  const out: Buffer[] = [];
  while (list.remaining > 0) out.push(Buffer.from(list.vec24()));
  return out;
}

/** ServerKeyExchange for ECDHE (RFC 8422 §5.4): named curve P-256, our point, an ECDSA signature over both randoms and the params. */
export function ecdheServerKeyExchange(cred: ServerCredential, point: Buffer, clientRandom: Buffer, serverRandom: Buffer): Buffer {
  const params = Buffer.concat([Buffer.from([3]), u16(23), vec8(point)]);
  const signature = sign('sha256', Buffer.concat([clientRandom, serverRandom, params]), { key: cred.key, dsaEncoding: 'der' });
  return Buffer.concat([params, u16(ECDSA_SHA256), vec16(signature)]);
}

/** CertificateRequest (RFC 5246 §7.4.4): ECDSA or RSA signing certificates, SHA-256 signatures, no CA names. */
export function certificateRequest(): Buffer {
  return Buffer.concat([vec8(Buffer.from([64, 1])), vec16(Buffer.concat([u16(ECDSA_SHA256), u16(RSA_SHA256)])), vec16(Buffer.alloc(0))]);
}

/** Verifies a CertificateVerify body against the transcript so far (RFC 5246 §7.4.8). */
export function verifyCertificateVerify(body: Buffer, transcript: Buffer, cert: X509Certificate): boolean {
  const r = new Reader(body);
  const alg = r.u16();
  const signature = r.vec16();
  if (alg !== ECDSA_SHA256 && alg !== RSA_SHA256) return false;
  try {
    return verify('sha256', transcript, { key: cert.publicKey, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

export type ChainResult =
  | { readonly ok: true; readonly leaf: X509Certificate }
  | { readonly ok: false; readonly reason: string; readonly alert: 'bad' | 'unknown-ca' | 'expired' | 'revoked' };

/**
 * The client's chain (leaf first) must lead to one of `cas`, every
 * certificate within its validity (RFC 5280 §6, simplified: no policy or
 * name constraints). With CRLs, the leaf must not be revoked by its issuer's
 * CRL, and an issuer without one is refused (as OpenSSL's CRL check refuses
 * the TLS listeners' clients).
 */
export function verifyChain(ders: readonly Buffer[], cas: readonly X509Certificate[], now: number, crls: readonly Crl[] = []): ChainResult {
  let certs: X509Certificate[];
  try {
    certs = ders.map((d) => new X509Certificate(d));
  } catch {
    return { ok: false, reason: 'client certificate unreadable', alert: 'bad' };
  }
  const leaf = certs[0];
  if (!leaf) return { ok: false, reason: 'client certificate missing', alert: 'bad' };
  const intermediates = certs.slice(1);
  let current = leaf;
  for (let depth = 0; depth < 8; depth++) {
    if (!within(current, now)) return { ok: false, reason: 'client certificate expired or not yet valid', alert: 'expired' };
    const ca = cas.find((c) => issued(current, c));
    if (ca) {
      if (!within(ca, now)) return { ok: false, reason: 'CA certificate expired', alert: 'expired' };
      return crls.length > 0 ? revocation(leaf, crls) : { ok: true, leaf };
    }
    const next = intermediates.find((c) => c !== current && c.ca && issued(current, c));
    if (!next) break;
    current = next;
  }
  return { ok: false, reason: 'client certificate from an unknown CA', alert: 'unknown-ca' };
}

function revocation(leaf: X509Certificate, crls: readonly Crl[]): ChainResult {
  const crl = crls.find((c) => issued(leaf, c.issuer));
  if (!crl) return { ok: false, reason: "no CRL for the client certificate's issuer", alert: 'unknown-ca' };
  if (crl.revoked.has(serialKey(leaf.serialNumber))) return { ok: false, reason: 'client certificate revoked', alert: 'revoked' };
  return { ok: true, leaf };
}

function issued(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function within(c: X509Certificate, now: number): boolean {
  return Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);
}

/** The certificate facts TLS listeners put on envelopes (envelope/envelope.ts PeerCertificate). */
export function peerFacts(c: X509Certificate): PeerCertificate {
  return {
    subject: c.subject.split('\n').join(','),
    issuer: c.issuer.split('\n').join(','),
    san: c.subjectAltName ? c.subjectAltName.split(', ').filter(Boolean) : [],
    serial: c.serialNumber.toUpperCase(),
    fingerprint256: c.fingerprint256,
    validFrom: new Date(c.validFrom).toISOString(),
    validTo: new Date(c.validTo).toISOString(),
  };
}

/** The subject CN, for the x509 authenticator. */
export function commonName(c: X509Certificate): string | undefined {
  for (const line of c.subject.split('\n')) if (line.startsWith('CN=')) return line.slice(3);
  return undefined;
}

/**
 * TLS facts of an accepted socket (recorded in envelopes, shown to admission
 * and scripts) and the reason a handshake or a client certificate failed, for
 * the security log. The server side itself is in tls-server.ts.
 */
import type { Socket } from 'node:net';
import type { DetailedPeerCertificate, PeerCertificate as PeerCertificateNode, TLSSocket } from 'node:tls';
import type { PeerCertificate, TlsInfo } from '../envelope/index.js';
import { lazyClientHello } from './client-hello.js';

/** OpenSSL / node error codes of a failed server handshake, by the reason logged for them. */
const HANDSHAKE_REASONS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['plain-text HTTP request on a TLS port', ['ERR_SSL_HTTP_REQUEST', 'ERR_SSL_HTTPS_PROXY_REQUEST']],
  [
    'not a TLS record: plain text on a TLS port, or SSL 2/3',
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_RECORD_LENGTH_MISMATCH'],
  ],
  ['unsupported TLS version', ['ERR_SSL_UNSUPPORTED_PROTOCOL', 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'ERR_SSL_VERSION_TOO_LOW']],
  ['no shared cipher', ['ERR_SSL_NO_SHARED_CIPHER', 'ERR_SSL_NO_SUITABLE_SIGNATURE_ALGORITHM', 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE']],
  ['client does not trust our certificate (unknown CA)', ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_TLSV13_ALERT_UNKNOWN_CA']],
  [
    'client rejected our certificate',
    [
      'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
      'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN',
      'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED',
      'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR',
    ],
  ],
  ['client certificate missing', ['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED']],
  ['client certificate not trusted', ['ERR_SSL_CERTIFICATE_VERIFY_FAILED', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA_FROM_CLIENT']],
  ['no common ALPN protocol', ['ERR_SSL_NO_APPLICATION_PROTOCOL']],
  ['handshake time-out', ['ERR_TLS_HANDSHAKE_TIMEOUT']],
  ['connection closed during the handshake', ['ECONNRESET', 'EPIPE']],
];

const REASON_BY_CODE = new Map(HANDSHAKE_REASONS.flatMap(([reason, codes]) => codes.map((c) => [c, reason] as const)));

/**
 * Why a server-side TLS handshake failed (a `tlsClientError`), in words an
 * operator can act on; the OpenSSL code is kept for the unforeseen ones.
 */
export function tlsHandshakeFailure(err: Error & { code?: string }): string {
  const code = err.code ?? '';
  const known = REASON_BY_CODE.get(code);
  if (known !== undefined) return `${known} (${code})`;
  if (/handshake timeout/i.test(err.message)) return 'handshake time-out';
  // OpenSSL messages end in the source file and line: keep the reason text only.
  const text = /:([^:]+):[^:]*\.c:\d+:?\s*$/.exec(err.message)?.[1] ?? err.message;
  return code ? `${text.trim()} (${code})` : text.trim();
}

/** X.509 verification results (OpenSSL `X509_V_ERR_*` as node names them) by the reason logged for them. */
const CLIENT_CERT_REASONS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['client certificate revoked', ['CERT_REVOKED']],
  ['client certificate expired', ['CERT_HAS_EXPIRED']],
  ['client certificate not yet valid', ['CERT_NOT_YET_VALID']],
  [
    'client certificate from an unknown CA',
    [
      'UNABLE_TO_GET_ISSUER_CERT',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'SELF_SIGNED_CERT_IN_CHAIN',
    ],
  ],
  ["no CRL for the client certificate's issuer", ['UNABLE_TO_GET_CRL']],
];
const CLIENT_CERT_BY_CODE = new Map(CLIENT_CERT_REASONS.flatMap(([reason, codes]) => codes.map((c) => [c, reason] as const)));

/** Why a presented client certificate was refused, from the socket's `authorizationError`. */
export function clientCertFailure(code: string): string {
  return `${CLIENT_CERT_BY_CODE.get(code) ?? 'client certificate not trusted'} (${code})`;
}

const INFO = Symbol('thinggate.tls.info');

/** TLS facts of an accepted socket, read once per connection; undefined for plain TCP. */
export function tlsInfoOf(socket: Socket | TLSSocket): TlsInfo | undefined {
  const s = socket as TLSSocket & { [INFO]?: TlsInfo; servername?: string | false };
  if (!s.encrypted) return undefined;
  if (s[INFO]) return s[INFO];
  const raw = s.getPeerCertificate();
  const peer = peerOf(raw);
  const info: TlsInfo = {
    version: s.getProtocol() ?? 'unknown',
    cipher: s.getCipher()?.name ?? 'unknown',
    ...(typeof s.servername === 'string' && { servername: s.servername }),
    ...(typeof s.alpnProtocol === 'string' && { alpn: s.alpnProtocol }),
    resumed: s.isSessionReused(),
    authorized: s.authorized,
    ...(peer && { peer, peerSubject: peer.subject, peerFingerprint256: peer.fingerprint256 }),
    // The x509 authenticator's inputs: verified against the listener's CA, and the names a principal is taken from.
    ...(peer && { peerVerified: s.authorized }),
    ...(peer && typeof raw.subject?.CN === 'string' && { peerCommonName: raw.subject.CN }),
    ...(peer && typeof raw.subjectaltname === 'string' && { peerAltNames: raw.subjectaltname }),
  };
  // JA4 and JA3 are hashed when first read (envelope, log, route match), not for every handshake.
  const hello = lazyClientHello(s);
  if (hello) {
    for (const key of ['ja4', 'ja3'] as const) Object.defineProperty(info, key, { enumerable: true, configurable: true, get: () => hello()?.[key] });
  }
  // Facts are fixed once the handshake is done (thinggate never renegotiates).
  if (!s.destroyed) s[INFO] = info;
  return info;
}

function peerOf(c: PeerCertificateNode | null): PeerCertificate | undefined {
  if (!c || Object.keys(c).length === 0) return undefined;
  const d = c as DetailedPeerCertificate;
  const dn = (o: object | undefined): string =>
    o
      ? Object.entries(o)
          .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : String(v)}`)
          .join(',')
      : '';
  const iso = (t: string): string => (Number.isNaN(Date.parse(t)) ? t : new Date(t).toISOString());
  return {
    subject: dn(d.subject),
    issuer: dn(d.issuer),
    san: d.subjectaltname ? d.subjectaltname.split(', ').filter(Boolean) : [],
    serial: d.serialNumber ?? '',
    fingerprint256: d.fingerprint256 ?? '',
    validFrom: iso(d.valid_from),
    validTo: iso(d.valid_to),
  };
}

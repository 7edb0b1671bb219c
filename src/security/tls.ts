/**
 * TLS for device listeners: server options from a listener's `tls` section
 * (PEM files relative to the configuration file's folder), the TLS facts of
 * an accepted socket, recorded in envelopes and shown to admission, and the
 * reason a handshake failed, for the security log.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Socket } from 'node:net';
import type { TLSSocket, TlsOptions } from 'node:tls';
import type { TlsInfo } from '../envelope/index.js';
import type { TlsConfig } from '../config/types.js';
import { ThinggateError } from '../errors.js';

/**
 * Reads a listener's certificate, key and CA. With `requestCert`, client
 * certificates are verified against `ca` when one is given; without a CA any
 * client certificate is accepted and only recorded (subject, fingerprint).
 * Throws TG_ERR_TLS_MATERIAL naming the listener and the file.
 */
export function serverTlsOptions(listener: string, tls: TlsConfig, baseDir: string = process.cwd(), connectTimeoutMs?: number): TlsOptions {
  const read = (file: string): Buffer => {
    try {
      return readFileSync(resolve(baseDir, file));
    } catch (err) {
      throw new ThinggateError('TG_ERR_TLS_MATERIAL', `listener '${listener}': cannot read TLS material '${file}': ${(err as Error).message}`, {
        cause: err,
      });
    }
  };
  return {
    cert: read(tls.cert),
    key: read(tls.key),
    ...(tls.ca !== undefined && { ca: read(tls.ca) }),
    requestCert: tls.requestCert,
    rejectUnauthorized: tls.requestCert && tls.ca !== undefined,
    minVersion: tls.minVersion,
    // The listener's accept deadline (listeners/accept-guard.ts) bounds the handshake; node's own
    // timer only restarts on every byte, so it stays a backstop that never fires first.
    ...(connectTimeoutMs !== undefined && { handshakeTimeout: Math.max(HANDSHAKE_BACKSTOP_MS, connectTimeoutMs + HANDSHAKE_BACKSTOP_MS) }),
  };
}

/** How far behind the accept deadline node's handshake timer runs. */
const HANDSHAKE_BACKSTOP_MS = 60_000;

/** OpenSSL / node error codes of a failed server handshake, by the reason logged for them. */
const HANDSHAKE_REASONS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['plain-text HTTP request on a TLS port', ['ERR_SSL_HTTP_REQUEST', 'ERR_SSL_HTTPS_PROXY_REQUEST']],
  ['not a TLS record: plain text on a TLS port, or SSL 2/3', ['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_RECORD_LENGTH_MISMATCH']],
  ['unsupported TLS version', ['ERR_SSL_UNSUPPORTED_PROTOCOL', 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'ERR_SSL_VERSION_TOO_LOW']],
  ['no shared cipher', ['ERR_SSL_NO_SHARED_CIPHER', 'ERR_SSL_NO_SUITABLE_SIGNATURE_ALGORITHM', 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE']],
  ['client does not trust our certificate (unknown CA)', ['ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ERR_SSL_TLSV13_ALERT_UNKNOWN_CA']],
  ['client rejected our certificate', ['ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN', 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR']],
  ['client certificate missing', ['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED']],
  ['client certificate not trusted', ['ERR_SSL_CERTIFICATE_VERIFY_FAILED', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA_FROM_CLIENT']],
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

/** TLS facts of an accepted socket; undefined for plain TCP. */
export function tlsInfoOf(socket: Socket | TLSSocket): TlsInfo | undefined {
  const s = socket as TLSSocket;
  if (!s.encrypted) return undefined;
  const peer = s.getPeerCertificate();
  const hasPeer = peer !== null && typeof peer === 'object' && Object.keys(peer).length > 0;
  const servername = (s as TLSSocket & { servername?: string | false }).servername;
  return {
    version: s.getProtocol() ?? 'unknown',
    cipher: s.getCipher()?.name ?? 'unknown',
    ...(typeof servername === 'string' && { servername }),
    ...(hasPeer && peer.subject && { peerSubject: Object.entries(peer.subject).map(([k, v]) => `${k}=${String(v)}`).join(',') }),
    ...(hasPeer && peer.fingerprint256 && { peerFingerprint256: peer.fingerprint256 }),
    ...(hasPeer && { peerVerified: s.authorized }),
    ...(hasPeer && typeof peer.subject?.CN === 'string' && { peerCommonName: peer.subject.CN }),
    ...(hasPeer && typeof peer.subjectaltname === 'string' && { peerAltNames: peer.subjectaltname }),
  };
}

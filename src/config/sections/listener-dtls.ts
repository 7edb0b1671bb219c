/**
 * `listeners[].dtls`: CoAP over DTLS 1.2 (`coaps`, RFC 7252 §9) on a coap
 * listener. PSK mode (a table of identities and keys, RFC 4279) and
 * certificate mode (server certificate and P-256 key, optional CA for
 * client certificates) may be combined; the client's cipher suites decide.
 */

export interface DtlsPskEntry {
  readonly identity: string;
  /** The key as text (UTF-8), as libcoap's `-k` takes it. */
  readonly key?: string;
  /** A file holding the key bytes (one trailing newline is ignored). */
  readonly keyFile?: string;
}

export interface DtlsConfig {
  readonly psk: readonly DtlsPskEntry[];
  /** PEM server certificate (chain, leaf first) for the ECDHE_ECDSA suites. */
  readonly cert?: string;
  /** PEM private key of `cert` (EC P-256). */
  readonly key?: string;
  /** PEM CA bundle; when set, certificate-mode clients must present a certificate that chains to it. */
  readonly ca?: string;
  /** PEM or DER CRLs of CAs in `ca`: a revoked client certificate fails the handshake and its cached session no longer resumes. */
  readonly crl?: string | readonly string[];
  readonly handshakeTimeoutMs: number;
  readonly maxHandshakes: number;
  readonly mtu: number;
  readonly retransmitMs: number;
  readonly sessionIdleMs: number;
  /** Sessions kept for resumption by session id (RFC 5246 §7.3); 0 turns resumption off. */
  readonly sessionCacheSize: number;
  /** A cached session resumes for this long after its full handshake. */
  readonly sessionLifetimeMs: number;
}

export const DTLS_DEFAULTS = Object.freeze({
  handshakeTimeoutMs: 10_000,
  maxHandshakes: 1000,
  mtu: 1200,
  retransmitMs: 1000,
  sessionIdleMs: 600_000,
  sessionCacheSize: 10_000,
  // RFC 5246 §F.1.4 suggests an upper limit of 24 hours on session ids.
  sessionLifetimeMs: 86_400_000,
});

export const dtlsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    psk: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['identity'],
        properties: {
          identity: { type: 'string', minLength: 1, maxLength: 128 },
          key: { type: 'string', minLength: 1, maxLength: 64 },
          keyFile: { type: 'string', minLength: 1 },
        },
      },
    },
    cert: { type: 'string', minLength: 1 },
    key: { type: 'string', minLength: 1 },
    ca: { type: 'string', minLength: 1 },
    crl: {
      anyOf: [
        { type: 'string', minLength: 1 },
        { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
      ],
    },
    handshakeTimeoutMs: { type: 'integer', minimum: 100, maximum: 600000, default: DTLS_DEFAULTS.handshakeTimeoutMs },
    maxHandshakes: { type: 'integer', minimum: 1, maximum: 1000000, default: DTLS_DEFAULTS.maxHandshakes },
    mtu: { type: 'integer', minimum: 256, maximum: 65507, default: DTLS_DEFAULTS.mtu },
    retransmitMs: { type: 'integer', minimum: 50, maximum: 60000, default: DTLS_DEFAULTS.retransmitMs },
    sessionIdleMs: { type: 'integer', minimum: 1000, default: DTLS_DEFAULTS.sessionIdleMs },
    sessionCacheSize: { type: 'integer', minimum: 0, maximum: 1000000, default: DTLS_DEFAULTS.sessionCacheSize },
    sessionLifetimeMs: { type: 'integer', minimum: 1000, maximum: 86400000, default: DTLS_DEFAULTS.sessionLifetimeMs },
  },
} as const;

/** Combinations the schema cannot express; `at` is the section's JSON path. */
export function dtlsProblems(d: DtlsConfig, at: string, protocol: string): string[] {
  const out: string[] = [];
  if (protocol !== 'coap') out.push(`${at}: only a coap listener speaks DTLS`);
  d.psk.forEach((p, i) => {
    if ((p.key === undefined) === (p.keyFile === undefined)) out.push(`${at}/psk/${i}: give exactly one of key or keyFile`);
    if (d.psk.findIndex((q) => q.identity === p.identity) !== i) out.push(`${at}/psk/${i}/identity: '${p.identity}' appears twice`);
  });
  if ((d.cert === undefined) !== (d.key === undefined)) out.push(`${at}/${d.cert === undefined ? 'cert' : 'key'}: cert and key go together`);
  if (d.ca !== undefined && d.cert === undefined) out.push(`${at}/ca: client certificates need certificate mode (cert and key)`);
  if (d.crl !== undefined && d.ca === undefined) out.push(`${at}/crl: needs ca (revocation applies to verified client certificates)`);
  if (d.psk.length === 0 && d.cert === undefined) out.push(`${at}: needs psk entries or cert and key`);
  return out;
}

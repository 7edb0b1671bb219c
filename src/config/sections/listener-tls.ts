/**
 * Schema and types of a listener's `tls` section: the server's certificates
 * (one default, more chosen by SNI), the protocol policy (versions, suites,
 * groups, ALPN), client certificates and the certificate-expiry warning.
 */

/** One certificate with its key, offered to clients that ask for one of `serverNames` (SNI, RFC 6066 §3). */
export interface TlsCertificateConfig {
  readonly cert: string;
  readonly key: string;
  /** Host names, `*.example.com` wildcards allowed (one label). */
  readonly serverNames: readonly string[];
}

export type ClientCertMode = 'none' | 'optional' | 'required';

export interface TlsConfig {
  /** PEM files, relative to the configuration file: the default certificate chain and key. */
  readonly cert: string;
  readonly key: string;
  /** Further certificates selected by the client's SNI; the default serves every other name. */
  readonly certificates: readonly TlsCertificateConfig[];
  /** PEM CA bundle that verifies client certificates. */
  readonly ca?: string;
  /** PEM certificate revocation lists checked against client certificates. */
  readonly crl: readonly string[];
  /**
   * `none`: no certificate asked for. `optional`: asked for; verified against
   * `ca` when one is given (an unverifiable certificate is refused), only
   * recorded without `ca`. `required`: a certificate verified against `ca`.
   */
  readonly clientCert: ClientCertMode;
  /** Deprecated spelling of `clientCert` (true: `required` with `ca`, else `optional`); mirrors `clientCert !== 'none'`. */
  readonly requestCert: boolean;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly maxVersion: 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL names of the allowed suites, TLS 1.3 and 1.2 alike (`TLS_AES_128_GCM_SHA256`, `ECDHE-ECDSA-AES128-GCM-SHA256`). */
  readonly ciphers?: readonly string[];
  /** Key-exchange groups (curves) in preference order: `X25519`, `P-256`, ... */
  readonly groups?: readonly string[];
  /** ALPN protocol names offered (RFC 7301); a client offering none of them is refused. */
  readonly alpn?: readonly string[];
  /** A warning is logged while a server certificate expires within this many days. */
  readonly expiryWarningDays: number;
  /** Watch the files and reload them when they change (SIGHUP reloads them too). */
  readonly watch: boolean;
}

const file = { type: 'string', minLength: 1 } as const;
const names = { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, pattern: '^[^:]+$' } } as const;

export const tlsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['cert', 'key'],
  properties: {
    cert: { ...file, description: 'PEM certificate chain file' },
    key: { ...file, description: 'PEM private key file' },
    certificates: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['cert', 'key', 'serverNames'],
        properties: { cert: file, key: file, serverNames: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^(\\*\\.)?[A-Za-z0-9.-]+$' } } },
      },
    },
    ca: { ...file, description: 'PEM CA bundle for client certificates' },
    crl: { anyOf: [file, { type: 'array', items: file }], default: [] },
    clientCert: { enum: ['none', 'optional', 'required'] },
    requestCert: { type: 'boolean', description: 'deprecated: use clientCert' },
    minVersion: { enum: ['TLSv1.2', 'TLSv1.3'], default: 'TLSv1.2' },
    maxVersion: { enum: ['TLSv1.2', 'TLSv1.3'], default: 'TLSv1.3' },
    ciphers: names,
    groups: names,
    alpn: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, maxLength: 255 } },
    expiryWarningDays: { type: 'integer', minimum: 0, default: 14 },
    watch: { type: 'boolean', default: true },
  },
} as const;

/** The `tls` section as the schema left it (before {@link normalizeTls}). */
type RawTls = Omit<TlsConfig, 'crl' | 'clientCert' | 'requestCert'> & { crl: string | readonly string[]; clientCert?: ClientCertMode; requestCert?: boolean };

/** Settles `clientCert` from it or the deprecated `requestCert`, and `crl` to a list. */
export function normalizeTls(raw: RawTls): TlsConfig {
  const clientCert: ClientCertMode = raw.clientCert ?? (raw.requestCert === true ? (raw.ca !== undefined ? 'required' : 'optional') : 'none');
  return { ...raw, crl: typeof raw.crl === 'string' ? [raw.crl] : raw.crl, clientCert, requestCert: clientCert !== 'none' };
}

/** What the schema cannot say about a `tls` section at `at` (a JSON pointer). */
export function tlsProblems(raw: RawTls, at: string): string[] {
  const out: string[] = [];
  if (raw.clientCert !== undefined && raw.requestCert !== undefined) out.push(`${at}/requestCert: deprecated; give only clientCert`);
  const t = normalizeTls(raw);
  if (t.clientCert === 'required' && t.ca === undefined) out.push(`${at}/ca: is required when clientCert is 'required'`);
  if (t.crl.length > 0 && t.ca === undefined) out.push(`${at}/crl: needs ca (revocation applies to verified client certificates)`);
  if (t.minVersion === 'TLSv1.3' && t.maxVersion === 'TLSv1.2') out.push(`${at}/maxVersion: below minVersion`);
  return out;
}

/**
 * Certificate revocation lists for coaps certificate mode (RFC 5280 §5):
 * the serial numbers a CA revoked, read from a PEM or DER CRL whose
 * signature must verify with one of the configured CAs. node:crypto has no
 * CRL type, so the DER is walked here: only the fields revocation needs
 * (tbsCertList, the signature algorithm and value, the revoked serials).
 * Validity times of the CRL itself (thisUpdate, nextUpdate) are not checked.
 */
import { verify, type X509Certificate } from 'node:crypto';

export interface Crl {
  /** The configured CA whose key signed the CRL. */
  readonly issuer: X509Certificate;
  /** Revoked serial numbers, upper-case hex without leading zeros (as X509Certificate.serialNumber normalized by {@link serialKey}). */
  readonly revoked: ReadonlySet<string>;
}

/** Signature algorithms by OID (DER content, hex): the hash, for crypto.verify. */
const SIGNATURE_HASH: Readonly<Record<string, string>> = {
  '2a8648ce3d040302': 'sha256', // ecdsa-with-SHA256
  '2a8648ce3d040303': 'sha384',
  '2a8648ce3d040304': 'sha512',
  '2a864886f70d01010b': 'sha256', // sha256WithRSAEncryption
  '2a864886f70d01010c': 'sha384',
  '2a864886f70d01010d': 'sha512',
  '2a864886f70d010105': 'sha1',
};

interface Tlv {
  readonly tag: number;
  /** First byte of the header. */
  readonly at: number;
  /** First byte of the content. */
  readonly body: number;
  readonly end: number;
}

function tlv(b: Buffer, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new Error('CRL truncated');
  const tag = b[at]!;
  let len = b[at + 1]!;
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || body + n > limit) throw new Error('CRL length invalid');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[body + i]!;
    body += n;
  }
  if (body + len > limit) throw new Error('CRL truncated');
  return { tag, at, body, end: body + len };
}

function children(b: Buffer, t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = t.body; at < t.end; ) {
    const c = tlv(b, at, t.end);
    out.push(c);
    at = c.end;
  }
  return out;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;

/** An X.509 serial number as a set key: upper-case hex, no leading zeros. */
export function serialKey(hex: string): string {
  return hex.toUpperCase().replace(/^0+(?=.)/, '');
}

/**
 * Reads one CRL (DER, or the first PEM block) and finds the CA among `cas`
 * that signed it; throws when it is malformed or signed by none of them.
 */
export function parseCrl(data: Buffer, cas: readonly X509Certificate[]): Crl {
  const pem = /-----BEGIN X509 CRL-----([\s\S]+?)-----END X509 CRL-----/.exec(data.toString('latin1'));
  const der = pem ? Buffer.from(pem[1]!.replace(/\s+/g, ''), 'base64') : data;
  const top = tlv(der, 0, der.length);
  if (top.tag !== SEQUENCE) throw new Error('not a CRL');
  const [tbs, alg, sig] = children(der, top);
  if (tbs?.tag !== SEQUENCE || alg?.tag !== SEQUENCE || sig?.tag !== 0x03) throw new Error('not a CRL');
  const oid = children(der, alg)[0];
  const hash = oid && oid.tag === 0x06 ? SIGNATURE_HASH[der.subarray(oid.body, oid.end).toString('hex')] : undefined;
  if (!hash) throw new Error('CRL signature algorithm not supported');
  const signed = der.subarray(tbs.at, tbs.end);
  // A BIT STRING's first content byte counts unused bits (0 for a signature).
  const signature = der.subarray(sig.body + 1, sig.end);
  const issuer = cas.find((ca) => {
    try {
      return verify(hash, signed, { key: ca.publicKey, dsaEncoding: 'der' }, signature);
    } catch {
      return false;
    }
  });
  if (!issuer) throw new Error('CRL not signed by any CA in dtls.ca');
  const fields = children(der, tbs);
  // version (optional INTEGER), signature, issuer, thisUpdate, then nextUpdate (a time) and revokedCertificates (a SEQUENCE), each optional.
  let i = fields[0]?.tag === INTEGER ? 4 : 3;
  if (fields[i] && (fields[i]!.tag === 0x17 || fields[i]!.tag === 0x18)) i++;
  const revoked = new Set<string>();
  const list = fields[i];
  if (list?.tag === SEQUENCE) {
    for (const entry of children(der, list)) {
      const serial = children(der, entry)[0];
      if (serial?.tag !== INTEGER) throw new Error('CRL entry without a serial number');
      revoked.add(serialKey(der.subarray(serial.body, serial.end).toString('hex')));
    }
  }
  return { issuer, revoked };
}

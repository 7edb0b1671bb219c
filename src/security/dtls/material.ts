/**
 * Reads a coap listener's `dtls` section into the DTLS server's
 * configuration: PSK keys (inline or from files), the server certificate
 * chain and P-256 key, and the client CA bundle. Any unreadable or unsuitable
 * file throws TG_ERR_TLS_MATERIAL naming the listener, the JSON path and the
 * file (`thinggate check` runs the same code).
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DtlsConfig } from '../../config/sections/listener-dtls.js';
import { ThinggateError } from '../../errors.js';
import { parseCrl } from './crl.js';
import type { DtlsServerConfig } from './types.js';

/** How often the HelloVerifyRequest cookie secret changes; a cookie lives one to two periods (RFC 6347 §4.2.1). */
const COOKIE_ROTATE_MS = 30_000;

export function loadDtlsMaterial(listener: string, d: DtlsConfig, baseDir: string, maxSessions: number): DtlsServerConfig {
  const read = (at: string, file: string): Buffer => {
    try {
      return readFileSync(resolve(baseDir, file));
    } catch (err) {
      throw fail(listener, at, file, err);
    }
  };
  const psk = new Map<string, Buffer>();
  d.psk.forEach((p, i) => {
    const key = p.keyFile !== undefined ? stripNewline(read(`/dtls/psk/${i}/keyFile`, p.keyFile)) : Buffer.from(p.key ?? '', 'utf8');
    if (key.length === 0 || key.length > 64) throw fail(listener, `/dtls/psk/${i}`, p.keyFile ?? '(inline key)', new Error('a PSK is 1 to 64 bytes'));
    psk.set(p.identity, key);
  });
  let credential: DtlsServerConfig['credential'];
  if (d.cert !== undefined && d.key !== undefined) {
    const chain = pemCertificates(listener, '/dtls/cert', d.cert, read('/dtls/cert', d.cert)).map((c) => c.raw);
    if (chain.length === 0) throw fail(listener, '/dtls/cert', d.cert, new Error('no PEM certificate in the file'));
    let key: KeyObject;
    try {
      key = createPrivateKey(read('/dtls/key', d.key));
    } catch (err) {
      throw err instanceof ThinggateError ? err : fail(listener, '/dtls/key', d.key, err);
    }
    // The ECDHE_ECDSA suites thinggate offers sign with P-256 (RFC 7252 §9.1.3.3 mandates it).
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw fail(listener, '/dtls/key', d.key, new Error('certificate mode needs an EC P-256 key'));
    }
    credential = { chain, key };
  }
  const ca = d.ca !== undefined ? pemCertificates(listener, '/dtls/ca', d.ca, read('/dtls/ca', d.ca)) : [];
  if (d.ca !== undefined && ca.length === 0) throw fail(listener, '/dtls/ca', d.ca, new Error('no PEM certificate in the file'));
  const crlFiles = d.crl === undefined ? [] : typeof d.crl === 'string' ? [d.crl] : d.crl;
  const crls = crlFiles.map((file, i) => {
    const at = typeof d.crl === 'string' ? '/dtls/crl' : `/dtls/crl/${i}`;
    try {
      return parseCrl(read(at, file), ca);
    } catch (err) {
      throw err instanceof ThinggateError ? err : fail(listener, at, file, err);
    }
  });
  return {
    psk,
    ...(credential && { credential }),
    ca,
    crls,
    mtu: d.mtu,
    retransmitMs: d.retransmitMs,
    handshakeTimeoutMs: d.handshakeTimeoutMs,
    maxHandshakes: d.maxHandshakes,
    maxSessions,
    sessionIdleMs: d.sessionIdleMs,
    sessionCacheSize: d.sessionCacheSize,
    sessionLifetimeMs: d.sessionLifetimeMs,
    cookieRotateMs: COOKIE_ROTATE_MS,
  };
}

function pemCertificates(listener: string, at: string, file: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    return blocks.map((b) => new X509Certificate(b));
  } catch (err) {
    throw fail(listener, at, file, err);
  }
}

function stripNewline(b: Buffer): Buffer {
  if (b.length > 0 && b[b.length - 1] === 0x0a) b = b.subarray(0, b[b.length - 2] === 0x0d ? -2 : -1);
  return b;
}

function fail(listener: string, at: string, file: string, err: unknown): ThinggateError {
  return new ThinggateError('TG_ERR_TLS_MATERIAL', `listener '${listener}': ${at} '${file}': ${(err as Error).message}`, { cause: err });
}

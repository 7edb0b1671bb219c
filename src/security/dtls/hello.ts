/**
 * ClientHello parsing and the server's hello messages: HelloVerifyRequest
 * (RFC 6347 §4.2.1) and ServerHello (RFC 5246 §7.4.1.3) with the extensions
 * thinggate answers: renegotiation_info (RFC 5746 §3.6; OpenSSL 3 clients
 * refuse servers without it), extended_master_secret (RFC 7627 §5.1) and
 * ec_point_formats (RFC 8422 §5.2).
 */
import { randomBytes } from 'node:crypto';
import { DTLS10, DTLS12 } from './record.js';
import { DtlsDecodeError, Reader, u16, vec16, vec8 } from './wire.js';

export const EXT = {
  serverName: 0,
  supportedGroups: 10,
  ecPointFormats: 11,
  signatureAlgorithms: 13,
  extendedMasterSecret: 23,
  renegotiationInfo: 0xff01,
} as const;

/** TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746 §3.3). */
const RENEGOTIATION_SCSV = 0x00ff;
/** secp256r1 (RFC 8422 §5.1.1). */
export const SECP256R1 = 23;

export interface ClientHello {
  readonly version: number;
  readonly random: Buffer;
  readonly sessionId: Buffer;
  readonly cookie: Buffer;
  readonly suites: readonly number[];
  readonly suitesRaw: Buffer;
  readonly compressionsRaw: Buffer;
  readonly extensions: ReadonlyMap<number, Buffer>;
}

export function parseClientHello(body: Buffer): ClientHello {
  const r = new Reader(body);
  const version = r.u16();
  const random = r.bytes(32);
  const sessionId = r.vec8();
  const cookie = r.vec8();
  const suitesRaw = r.vec16();
  if (suitesRaw.length % 2 !== 0 || sessionId.length > 32 || cookie.length > 255) throw new DtlsDecodeError('bad ClientHello');
  const suites: number[] = [];
  for (let i = 0; i < suitesRaw.length; i += 2) suites.push(suitesRaw.readUInt16BE(i));
  const compressionsRaw = r.vec8();
  const extensions = new Map<number, Buffer>();
  if (r.remaining > 0) {
    const ext = new Reader(r.vec16());
    while (ext.remaining > 0) {
      const type = ext.u16();
      extensions.set(type, ext.vec16());
    }
  }
  return { version, random, sessionId, cookie, suites, suitesRaw, compressionsRaw, extensions };
}

/** Whether the client can do DTLS 1.2 (its highest version; DTLS versions count down, RFC 6347 §4.1). */
export function offersDtls12(h: ClientHello): boolean {
  return h.version <= DTLS12;
}

export function offersNullCompression(h: ClientHello): boolean {
  return h.compressionsRaw.includes(0);
}

export function wantsRenegotiationInfo(h: ClientHello): boolean {
  return h.extensions.has(EXT.renegotiationInfo) || h.suites.includes(RENEGOTIATION_SCSV);
}

/** Named groups of supported_groups; absent means the client said nothing (then P-256 is assumed, RFC 8422 §4). */
export function offersP256(h: ClientHello): boolean {
  const g = h.extensions.get(EXT.supportedGroups);
  if (!g || g.length < 2) return true;
  const list = new Reader(g).vec16();
  for (let i = 0; i + 1 < list.length; i += 2) if (list.readUInt16BE(i) === SECP256R1) return true;
  return false;
}

/** SignatureAndHashAlgorithm values the client accepts; ecdsa_secp256r1_sha256 when it sent none (RFC 5246 §7.4.1.4.1). */
export function offersEcdsaSha256(h: ClientHello): boolean {
  const s = h.extensions.get(EXT.signatureAlgorithms);
  if (!s || s.length < 2) return true;
  const list = new Reader(s).vec16();
  for (let i = 0; i + 1 < list.length; i += 2) if (list.readUInt16BE(i) === 0x0403) return true;
  return false;
}

/** HelloVerifyRequest body: server_version (DTLS 1.0, as RFC 6347 §4.2.1 advises) and the cookie. */
export function helloVerifyRequest(cookie: Buffer): Buffer {
  return Buffer.concat([u16(DTLS10), vec8(cookie)]);
}

export function serverRandom(): Buffer {
  const r = randomBytes(32);
  r.writeUInt32BE(Math.floor(Date.now() / 1000), 0);
  return r;
}

/** ServerHello; `sessionId` empty when the session will not be cached (RFC 5246 §7.4.1.3). */
export function serverHello(
  random: Buffer,
  suite: number,
  ext: { renegotiation: boolean; ems: boolean; ecc: boolean },
  sessionId: Buffer = Buffer.alloc(0),
): Buffer {
  const extensions: Buffer[] = [];
  if (ext.renegotiation) extensions.push(u16(EXT.renegotiationInfo), vec16(vec8(Buffer.alloc(0))));
  if (ext.ems) extensions.push(u16(EXT.extendedMasterSecret), vec16(Buffer.alloc(0)));
  if (ext.ecc) extensions.push(u16(EXT.ecPointFormats), vec16(vec8(Buffer.from([0]))));
  const parts = [u16(DTLS12), random, vec8(sessionId), u16(suite), Buffer.from([0])];
  if (extensions.length > 0) parts.push(vec16(Buffer.concat(extensions)));
  return Buffer.concat(parts);
}

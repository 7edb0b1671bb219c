/**
 * The DTLS record layer (RFC 6347 §4.1): the 13-byte header with epoch and
 * 48-bit sequence number, several records per datagram, and the anti-replay
 * sliding window of §4.1.2.6.
 */

export const CONTENT = { changeCipherSpec: 20, alert: 21, handshake: 22, applicationData: 23 } as const;
/** DTLS 1.2 is 0xfefd on the wire; 0xfeff (DTLS 1.0) is accepted on ClientHellos (RFC 6347 §4.1). */
export const DTLS12 = 0xfefd;
export const DTLS10 = 0xfeff;
export const HEADER_LENGTH = 13;
/** Largest record fragment: 2^14 plus the AEAD expansion (RFC 5246 §6.2.3). */
const MAX_FRAGMENT = 16384 + 2048;

export interface DtlsRecord {
  readonly type: number;
  readonly version: number;
  readonly epoch: number;
  readonly seq: number;
  /** Epoch and sequence number as on the wire: the AEAD nonce and additional data. */
  readonly seqNum: Buffer;
  readonly fragment: Buffer;
}

/**
 * The records of one datagram. A record whose header is not DTLS or whose
 * length runs past the datagram ends the parse: RFC 6347 §4.1.2.7 has
 * invalid records discarded, and nothing after one can be framed.
 */
export function parseRecords(datagram: Buffer): DtlsRecord[] {
  const out: DtlsRecord[] = [];
  let at = 0;
  while (datagram.length - at >= HEADER_LENGTH) {
    const type = datagram[at]!;
    const version = datagram.readUInt16BE(at + 1);
    const length = datagram.readUInt16BE(at + 11);
    if (type < 20 || type > 23 || (version !== DTLS12 && version !== DTLS10) || length > MAX_FRAGMENT) break;
    if (at + HEADER_LENGTH + length > datagram.length) break;
    out.push({
      type,
      version,
      epoch: datagram.readUInt16BE(at + 3),
      seq: datagram.readUIntBE(at + 5, 6),
      seqNum: datagram.subarray(at + 3, at + 11),
      fragment: datagram.subarray(at + HEADER_LENGTH, at + HEADER_LENGTH + length),
    });
    at += HEADER_LENGTH + length;
  }
  return out;
}

/** Epoch and sequence number as 8 bytes. */
export function seqNumOf(epoch: number, seq: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeUInt16BE(epoch, 0);
  b.writeUIntBE(seq, 2, 6);
  return b;
}

export function encodeRecord(type: number, version: number, seqNum: Buffer, fragment: Buffer): Buffer {
  const b = Buffer.allocUnsafe(HEADER_LENGTH + fragment.length);
  writeHeader(b, type, version, seqNum, fragment.length);
  fragment.copy(b, HEADER_LENGTH);
  return b;
}

/** The 13-byte record header at the start of `b`, for a fragment of `length` bytes. */
export function writeHeader(b: Buffer, type: number, version: number, seqNum: Buffer, length: number): void {
  b[0] = type;
  b.writeUInt16BE(version, 1);
  seqNum.copy(b, 3, 0, 8);
  b.writeUInt16BE(length, 11);
}

/** Window size of the anti-replay check (RFC 6347 §4.1.2.6: at least 32; 64 recommended). */
const WINDOW = 64;

/**
 * RFC 6347 §4.1.2.6: a record is accepted once, and only when it is newer
 * than the window's left edge. `check` runs before decryption, `accept` only
 * after the record authenticated, so forged records cannot move the window.
 * The window is a ring of WINDOW flags indexed by sequence number modulo
 * WINDOW: the slots between the old and the new highest number are cleared
 * as the window moves (sequence numbers reach 2^48, beyond 32-bit bit
 * operations, hence the modulo).
 */
export class ReplayWindow {
  private highest = -1;
  private readonly seen = new Uint8Array(WINDOW);

  check(seq: number): boolean {
    if (seq > this.highest) return true;
    if (this.highest - seq >= WINDOW) return false;
    return this.seen[seq % WINDOW] === 0;
  }

  accept(seq: number): void {
    if (seq > this.highest) {
      if (seq - this.highest >= WINDOW) this.seen.fill(0);
      else for (let s = this.highest + 1; s < seq; s++) this.seen[s % WINDOW] = 0;
      this.highest = seq;
    }
    this.seen[seq % WINDOW] = 1;
  }
}

/** Alert descriptions used by the server (RFC 5246 §7.2, RFC 4279 §2). */
export const ALERT = {
  closeNotify: 0,
  unexpectedMessage: 10,
  badRecordMac: 20,
  handshakeFailure: 40,
  badCertificate: 42,
  certificateRevoked: 44,
  certificateExpired: 45,
  illegalParameter: 47,
  unknownCa: 48,
  accessDenied: 49,
  decodeError: 50,
  decryptError: 51,
  protocolVersion: 70,
  internalError: 80,
  unknownPskIdentity: 115,
} as const;

export function alertBody(fatal: boolean, description: number): Buffer {
  return Buffer.from([fatal ? 2 : 1, description]);
}

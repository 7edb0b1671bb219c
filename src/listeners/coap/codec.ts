/**
 * CoAP message codec (RFC 7252 §3). thinggate parses datagrams itself rather
 * than through a general-purpose library: every malformed input must be told
 * apart (and counted) without exceptions escaping, option values are views on
 * the datagram (no copies), and serialisation writes one buffer in one pass.
 */
import { ThinggateError } from '../../errors.js';

export const TYPE_CON = 0;
export const TYPE_NON = 1;
export const TYPE_ACK = 2;
export const TYPE_RST = 3;
export type MessageType = 0 | 1 | 2 | 3;

/** One option; `number` is the option number, `value` a view on the datagram. */
export interface CoapOption {
  readonly number: number;
  readonly value: Buffer;
}

export interface CoapMessage {
  readonly type: MessageType;
  /** Code as one byte: class << 5 | detail (0x45 = 2.05). */
  readonly code: number;
  readonly messageId: number;
  readonly token: Buffer;
  /** In ascending option-number order, as on the wire. */
  readonly options: readonly CoapOption[];
  readonly payload: Buffer;
}

/** A datagram that is not a well-formed CoAP message (RFC 7252 §4.2, §4.3: "message format error"). */
export class CoapFormatError extends ThinggateError {
  /** The header was readable: a CON can be answered with a matching RST. */
  readonly header?: { readonly type: MessageType; readonly messageId: number };
  constructor(reason: string, header?: { type: MessageType; messageId: number }) {
    super('TG_ERR_COAP_MALFORMED', reason, { status: 400 });
    if (header) this.header = header;
  }
}

const EMPTY = Buffer.alloc(0);

/** Builds a code byte from class and detail (`code(2, 5)` = 2.05). */
export function code(cls: number, detail: number): number {
  return (cls << 5) | detail;
}

/** "c.dd" form of a code byte, for logs and diagnostics. */
export function codeText(c: number): string {
  return `${c >> 5}.${String(c & 0x1f).padStart(2, '0')}`;
}

/** Parses one datagram. Throws CoapFormatError on any format error. */
export function parseMessage(buf: Buffer): CoapMessage {
  if (buf.length < 4) throw new CoapFormatError(`datagram of ${buf.length} bytes is shorter than the 4-byte header`);
  const b0 = buf[0]!;
  const type = ((b0 >> 4) & 3) as MessageType;
  const tkl = b0 & 0x0f;
  const messageId = buf.readUInt16BE(2);
  const header = { type, messageId };
  // RFC 7252 §3: unknown version numbers MUST be silently ignored.
  if (b0 >> 6 !== 1) throw new CoapFormatError(`version ${b0 >> 6} is not 1`);
  const c = buf[1]!;
  // RFC 7252 §3: token lengths 9-15 are reserved and MUST be processed as a message format error.
  if (tkl > 8) throw new CoapFormatError(`token length ${tkl} is reserved`, header);
  if (4 + tkl > buf.length) throw new CoapFormatError('truncated token', header);
  const token = tkl === 0 ? EMPTY : buf.subarray(4, 4 + tkl);
  // RFC 7252 §4.1: an Empty message (0.00) has no token, options or payload.
  if (c === 0 && (tkl !== 0 || buf.length !== 4)) throw new CoapFormatError('empty message with token, options or payload', header);
  const options: CoapOption[] = [];
  let pos = 4 + tkl;
  let number = 0;
  while (pos < buf.length) {
    const ob = buf[pos++]!;
    if (ob === 0xff) {
      // RFC 7252 §3: a payload marker followed by a zero-length payload is a format error.
      if (pos === buf.length) throw new CoapFormatError('payload marker without payload', header);
      return { type, code: c, messageId, token, options, payload: buf.subarray(pos) };
    }
    const deltaNibble = ob >> 4;
    const lenNibble = ob & 0x0f;
    // RFC 7252 §3.1: nibble 15 is reserved (except in the payload marker).
    if (deltaNibble === 15 || lenNibble === 15) throw new CoapFormatError('reserved option nibble 15', header);
    const delta = extended(buf, pos, deltaNibble, 'delta', header);
    pos += extBytes(deltaNibble);
    const len = extended(buf, pos, lenNibble, 'length', header);
    pos += extBytes(lenNibble);
    number += delta;
    if (number > 0xffff) throw new CoapFormatError('option number above 65535', header);
    if (pos + len > buf.length) throw new CoapFormatError(`option ${number} runs past the end of the datagram`, header);
    options.push({ number, value: buf.subarray(pos, pos + len) });
    pos += len;
  }
  return { type, code: c, messageId, token, options, payload: EMPTY };
}

/** An option delta or length from its nibble and the extended bytes at `pos` (RFC 7252 §3.1): 13 adds one byte + 13, 14 two bytes + 269. */
function extended(buf: Buffer, pos: number, nibble: number, what: 'delta' | 'length', header: { type: MessageType; messageId: number }): number {
  if (nibble < 13) return nibble;
  if (pos + extBytes(nibble) > buf.length) throw new CoapFormatError(`truncated option ${what}`, header);
  return nibble === 13 ? buf[pos]! + 13 : buf.readUInt16BE(pos) + 269;
}

/** How many extended bytes follow an option nibble (13: one, 14: two). */
function extBytes(nibble: number): number {
  return nibble < 13 ? 0 : nibble - 12;
}

function extSize(v: number): number {
  return v < 13 ? 0 : v < 269 ? 1 : 2;
}

/** Serialises a message. Options must be in ascending number order. */
export function serializeMessage(m: CoapMessage): Buffer {
  let size = 4 + m.token.length;
  let prev = 0;
  for (const o of m.options) {
    size += 1 + extSize(o.number - prev) + extSize(o.value.length) + o.value.length;
    prev = o.number;
  }
  if (m.payload.length > 0) size += 1 + m.payload.length;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = 0x40 | (m.type << 4) | m.token.length;
  buf[1] = m.code;
  buf.writeUInt16BE(m.messageId, 2);
  let pos = 4;
  if (m.token.length > 0) pos += m.token.copy(buf, pos);
  prev = 0;
  for (const o of m.options) {
    const delta = o.number - prev;
    const len = o.value.length;
    prev = o.number;
    const dn = delta < 13 ? delta : delta < 269 ? 13 : 14;
    const ln = len < 13 ? len : len < 269 ? 13 : 14;
    buf[pos++] = (dn << 4) | ln;
    if (dn === 13) buf[pos++] = delta - 13;
    else if (dn === 14) pos = buf.writeUInt16BE(delta - 269, pos);
    if (ln === 13) buf[pos++] = len - 13;
    else if (ln === 14) pos = buf.writeUInt16BE(len - 269, pos);
    if (len > 0) pos += o.value.copy(buf, pos);
  }
  if (m.payload.length > 0) {
    buf[pos++] = 0xff;
    m.payload.copy(buf, pos);
  }
  return buf;
}

/** An Empty message (ACK or RST) for `messageId` (RFC 7252 §4.1). */
export function emptyMessage(type: typeof TYPE_ACK | typeof TYPE_RST, messageId: number): Buffer {
  const buf = Buffer.allocUnsafe(4);
  buf[0] = 0x40 | (type << 4);
  buf[1] = 0;
  buf.writeUInt16BE(messageId, 2);
  return buf;
}

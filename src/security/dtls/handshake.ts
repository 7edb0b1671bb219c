/**
 * DTLS handshake framing (RFC 6347 §4.2.2-4.2.3): the 12-byte header with
 * message_seq, fragment_offset and fragment_length; reassembly of fragments
 * in message_seq order; and fragmentation of outgoing messages to fit the
 * path MTU.
 */
import { DtlsDecodeError } from './wire.js';

export const HS = {
  clientHello: 1,
  serverHello: 2,
  helloVerifyRequest: 3,
  certificate: 11,
  serverKeyExchange: 12,
  certificateRequest: 13,
  serverHelloDone: 14,
  certificateVerify: 15,
  clientKeyExchange: 16,
  finished: 20,
} as const;

export const HS_HEADER = 12;
/** Largest handshake message accepted (a client certificate chain fits comfortably). */
const MAX_MESSAGE = 32 * 1024;

export interface HandshakeFragment {
  readonly type: number;
  readonly length: number;
  readonly seq: number;
  readonly offset: number;
  readonly body: Buffer;
}

export interface HandshakeMessage {
  readonly type: number;
  readonly seq: number;
  readonly body: Buffer;
}

/** The handshake fragments of one record (a record may hold several). */
export function parseFragments(fragment: Buffer): HandshakeFragment[] {
  const out: HandshakeFragment[] = [];
  let at = 0;
  while (at < fragment.length) {
    if (fragment.length - at < HS_HEADER) throw new DtlsDecodeError('handshake header truncated');
    const type = fragment[at]!;
    const length = fragment.readUIntBE(at + 1, 3);
    const seq = fragment.readUInt16BE(at + 4);
    const offset = fragment.readUIntBE(at + 6, 3);
    const fragLength = fragment.readUIntBE(at + 9, 3);
    if (length > MAX_MESSAGE || offset + fragLength > length || at + HS_HEADER + fragLength > fragment.length) {
      throw new DtlsDecodeError('bad handshake fragment');
    }
    out.push({ type, length, seq, offset, body: fragment.subarray(at + HS_HEADER, at + HS_HEADER + fragLength) });
    at += HS_HEADER + fragLength;
  }
  return out;
}

/** A message as if sent in one fragment: how it enters the transcript hash (RFC 6347 §4.2.6). */
export function encodeHandshake(type: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.allocUnsafe(HS_HEADER);
  h[0] = type;
  h.writeUIntBE(body.length, 1, 3);
  h.writeUInt16BE(seq, 4);
  h.writeUIntBE(0, 6, 3);
  h.writeUIntBE(body.length, 9, 3);
  return Buffer.concat([h, body]);
}

/** One message cut into fragments of at most `maxBody` bytes of body each (RFC 6347 §4.2.3). */
export function fragmentHandshake(type: number, seq: number, body: Buffer, maxBody: number): Buffer[] {
  if (body.length <= maxBody) return [encodeHandshake(type, seq, body)];
  const out: Buffer[] = [];
  for (let offset = 0; offset < body.length; offset += maxBody) {
    const part = body.subarray(offset, offset + maxBody);
    const h = Buffer.allocUnsafe(HS_HEADER);
    h[0] = type;
    h.writeUIntBE(body.length, 1, 3);
    h.writeUInt16BE(seq, 4);
    h.writeUIntBE(offset, 6, 3);
    h.writeUIntBE(part.length, 9, 3);
    out.push(Buffer.concat([h, part]));
  }
  return out;
}

/**
 * Reassembles the peer's messages in message_seq order. Fragments of
 * messages already delivered are ignored (retransmissions), those of later
 * messages are kept until their turn, at most a few messages ahead.
 */
export class Reassembler {
  private readonly pending = new Map<number, { type: number; body: Buffer; have: Uint8Array; missing: number }>();

  constructor(public next: number) {}

  /** Adds a fragment; returns the messages that became complete, in order. */
  add(f: HandshakeFragment): HandshakeMessage[] {
    if (f.seq < this.next || f.seq > this.next + 8) return [];
    let p = this.pending.get(f.seq);
    if (!p) {
      p = { type: f.type, body: Buffer.alloc(f.length), have: new Uint8Array(f.length), missing: f.length };
      this.pending.set(f.seq, p);
    }
    if (p.type !== f.type || p.body.length !== f.length) throw new DtlsDecodeError('fragments of one message disagree');
    f.body.copy(p.body, f.offset);
    for (let i = f.offset; i < f.offset + f.body.length; i++) {
      if (p.have[i] === 0) {
        p.have[i] = 1;
        p.missing--;
      }
    }
    const out: HandshakeMessage[] = [];
    for (let q = this.pending.get(this.next); q && q.missing === 0; q = this.pending.get(this.next)) {
      this.pending.delete(this.next);
      out.push({ type: q.type, seq: this.next, body: q.body });
      this.next++;
    }
    return out;
  }
}

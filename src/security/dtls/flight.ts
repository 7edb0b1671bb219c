/**
 * The server's outgoing flights (RFC 6347 §4.2.4): handshake messages
 * fragmented to fit the MTU, packed several records to a datagram, and
 * retransmitted with a doubling timer until the peer's next flight arrives.
 * Every transmission gets fresh record sequence numbers (§4.1).
 */
import { fragmentHandshake, HS_HEADER } from './handshake.js';
import { CONTENT, DTLS12, HEADER_LENGTH, encodeRecord, seqNumOf } from './record.js';
import type { RecordCipher } from './cipher.js';

/** One record's worth of a flight: a handshake message (fragmented on sending) or ChangeCipherSpec. */
export type FlightItem =
  | { readonly kind: 'handshake'; readonly type: number; readonly seq: number; readonly body: Buffer; readonly epoch: number }
  | { readonly kind: 'ccs' };

/** RFC 6347 §4.2.4.1: the timer doubles on each retransmission, up to 60 s. */
const MAX_TIMER_MS = 60_000;
/** AEAD expansion of an epoch-1 record: explicit nonce and the longest tag. */
const AEAD_OVERHEAD = 8 + 16;

export interface RecordWriter {
  /** Next record sequence number of an epoch (each epoch counts from 0, RFC 6347 §4.1). */
  nextSeq(epoch: number): number;
  readonly cipher?: RecordCipher;
  readonly mtu: number;
}

/** Turns items into datagrams of at most `mtu` bytes. */
export function encodeFlight(items: readonly FlightItem[], w: RecordWriter): Buffer[] {
  const records: Buffer[] = [];
  for (const item of items) {
    if (item.kind === 'ccs') {
      records.push(encodeRecord(CONTENT.changeCipherSpec, DTLS12, seqNumOf(0, w.nextSeq(0)), Buffer.from([1])));
      continue;
    }
    const overhead = HEADER_LENGTH + HS_HEADER + (item.epoch > 0 ? AEAD_OVERHEAD : 0);
    for (const frag of fragmentHandshake(item.type, item.seq, item.body, Math.max(64, w.mtu - overhead))) {
      const seqNum = seqNumOf(item.epoch, w.nextSeq(item.epoch));
      const payload = item.epoch > 0 && w.cipher ? w.cipher.seal(seqNum, CONTENT.handshake, DTLS12, frag) : frag;
      records.push(encodeRecord(CONTENT.handshake, DTLS12, seqNum, payload));
    }
  }
  return pack(records, w.mtu);
}

/** Packs records into as few datagrams as the MTU allows (RFC 6347 §4.1.1: several records per datagram). */
export function pack(records: readonly Buffer[], mtu: number): Buffer[] {
  const out: Buffer[] = [];
  let current: Buffer[] = [];
  let size = 0;
  for (const r of records) {
    if (size > 0 && size + r.length > mtu) {
      out.push(Buffer.concat(current));
      current = [];
      size = 0;
    }
    current.push(r);
    size += r.length;
  }
  if (current.length > 0) out.push(Buffer.concat(current));
  return out;
}

/** The last flight sent, its retransmission timer, and a floor on how often a peer's repeat can trigger it. */
export class FlightTimer {
  private items: readonly FlightItem[] = [];
  private timer?: NodeJS.Timeout;
  private delay: number;
  private lastSent = 0;

  constructor(
    private readonly initialMs: number,
    private readonly transmit: (items: readonly FlightItem[]) => void,
  ) {
    this.delay = initialMs;
  }

  /** Sends a new flight; `retransmit` false for the final flight, which is only resent when the peer repeats (§4.2.4). */
  send(items: readonly FlightItem[], retransmit: boolean): void {
    this.cancel();
    this.items = items;
    this.delay = this.initialMs;
    this.fire();
    if (retransmit) this.arm();
  }

  /** The peer repeated its previous flight: ours was lost. */
  peerRepeated(now: number): void {
    if (this.items.length === 0 || now - this.lastSent < this.initialMs / 2) return;
    this.fire();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.timer = setTimeout(() => {
      this.fire();
      this.delay = Math.min(this.delay * 2, MAX_TIMER_MS);
      this.arm();
    }, this.delay);
    this.timer.unref();
  }

  private fire(): void {
    this.lastSent = Date.now();
    this.transmit(this.items);
  }
}

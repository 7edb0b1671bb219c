/**
 * Reads MQTT data types (MQTT 5.0 §1.5, 3.1.1 §1.5) from the raw bytes of
 * one framed packet, checking what mqtt-packet decodes leniently: a field
 * running past its packet or property block is a Malformed Packet, a UTF-8
 * string must be well-formed and free of U+0000, and a Variable Byte Integer
 * must use the fewest bytes. Used by the PUBLISH decoder (decode-publish.ts)
 * and by the validators of every other packet (validate.ts).
 */
import { isUtf8 } from 'node:buffer';
import { malformed } from './violation.js';

export class Cursor {
  constructor(
    readonly frame: Buffer,
    public pos: number,
    /** Where the packet (or the property block being read) ends. */
    readonly end: number,
    /** Packet name for messages, e.g. 'PUBACK'. */
    readonly packet: string,
    readonly v5: boolean,
  ) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Skips `n` bytes; returns where they start. */
  take(n: number, what: string): number {
    const start = this.pos;
    if (start + n > this.end) {
      // [MQTT-4.13.1-1] (3.1.1: [MQTT-4.8.0-1]): lengths that do not add up make a Malformed Packet.
      throw malformed(
        this.v5 ? 'MQTT-4.13.1-1' : 'MQTT-4.8.0-1',
        `${this.packet} ${what} runs past the end of ${this.end === this.frame.length ? 'the packet' : 'its properties'}`,
      );
    }
    this.pos = start + n;
    return start;
  }

  u8(what: string): number {
    return this.frame[this.take(1, what)]!;
  }

  u16(what: string): number {
    const at = this.take(2, what);
    return (this.frame[at]! << 8) | this.frame[at + 1]!;
  }

  u32(what: string): number {
    return this.frame.readUInt32BE(this.take(4, what));
  }

  /** A UTF-8 Encoded String with its two-byte length, decoded. */
  string(what: string): string {
    const start = this.stringBytes(what);
    return this.frame.toString('utf8', start, this.pos);
  }

  /** Checks a UTF-8 Encoded String without decoding it; returns where its bytes start. */
  stringBytes(what: string): number {
    const start = this.take(this.u16(what), what);
    const problem = utf8Problem(this.frame, start, this.pos);
    if (problem !== undefined) {
      // v5 [MQTT-1.5.4-1] / [MQTT-1.5.4-2]; 3.1.1 [MQTT-1.5.3-1] / [MQTT-1.5.3-2].
      const clause = `MQTT-1.5.${this.v5 ? 4 : 3}-${problem === NUL ? 2 : 1}`;
      throw malformed(clause, `${this.packet} ${what} ${problem === NUL ? 'contains U+0000' : 'is not well-formed UTF-8'}`);
    }
    return start;
  }

  /** Binary Data (two-byte length, then bytes); returns where they start. */
  binary(what: string): number {
    return this.take(this.u16(what), what);
  }

  /** A Variable Byte Integer (MQTT 5.0 §1.5.5): at most four bytes, and no more than the value needs [MQTT-1.5.5-1]. */
  varInt(what: string): number {
    let value = 0;
    let multiplier = 1;
    for (let i = 0; i < 4; i++) {
      const b = this.u8(what);
      value += (b & 0x7f) * multiplier;
      if ((b & 0x80) === 0) {
        if (b === 0 && i > 0) throw malformed('MQTT-1.5.5-1', `${this.packet} ${what}: variable byte integer not in its shortest form`);
        return value;
      }
      multiplier *= 128;
    }
    throw malformed('MQTT-1.5.5-1', `${this.packet} ${what}: variable byte integer longer than four bytes`);
  }
}

const NUL = 'nul';
const ILL_FORMED = 'ill-formed';

/**
 * Why bytes `start..end` are not a valid MQTT UTF-8 string: ill-formed UTF-8
 * (surrogates, overlong forms and code points above U+10FFFF included) or a
 * U+0000; undefined when they are fine. ASCII is checked byte by byte, the
 * rest by Node's validator.
 */
export function utf8Problem(buf: Buffer, start: number, end: number): typeof NUL | typeof ILL_FORMED | undefined {
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b === 0) return NUL;
    if (b >= 0x80) {
      const nul = buf.indexOf(0, i);
      if (nul !== -1 && nul < end) return NUL;
      return isUtf8(buf.subarray(start, end)) ? undefined : ILL_FORMED;
    }
  }
  return undefined;
}

/** True when bytes `start..end` hold a wildcard, '+' or '#'. */
export function hasWildcard(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b === 0x2b || b === 0x23) return true;
  }
  return false;
}

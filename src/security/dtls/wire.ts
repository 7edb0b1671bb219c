/**
 * Reading and writing the TLS presentation language (RFC 5246 §4): fixed
 * integers and length-prefixed vectors. A read past the end throws
 * DtlsDecodeError, which the server answers with a decode_error alert.
 */

export class DtlsDecodeError extends Error {}

export class Reader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  get remaining(): number {
    return this.buf.length - this.at;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.at++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }

  u24(): number {
    this.need(3);
    const v = this.buf.readUIntBE(this.at, 3);
    this.at += 3;
    return v;
  }

  bytes(n: number): Buffer {
    this.need(n);
    const b = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }

  vec8(): Buffer {
    return this.bytes(this.u8());
  }

  vec16(): Buffer {
    return this.bytes(this.u16());
  }

  vec24(): Buffer {
    return this.bytes(this.u24());
  }

  rest(): Buffer {
    return this.bytes(this.remaining);
  }

  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new DtlsDecodeError('message truncated');
  }
}

export function u8(v: number): Buffer {
  return Buffer.from([v & 0xff]);
}

export function u16(v: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(v);
  return b;
}

export function u24(v: number): Buffer {
  const b = Buffer.allocUnsafe(3);
  b.writeUIntBE(v, 0, 3);
  return b;
}

export function vec8(b: Buffer): Buffer {
  return Buffer.concat([u8(b.length), b]);
}

export function vec16(b: Buffer): Buffer {
  return Buffer.concat([u16(b.length), b]);
}

export function vec24(b: Buffer): Buffer {
  return Buffer.concat([u24(b.length), b]);
}

export const OPT = {
  IF_MATCH: 1,
  URI_HOST: 3,
  ETAG: 4,
  IF_NONE_MATCH: 5,
  OBSERVE: 6,
  URI_PORT: 7,
  LOCATION_PATH: 8,
  URI_PATH: 11,
  CONTENT_FORMAT: 12,
  MAX_AGE: 14,
  URI_QUERY: 15,
  HOP_LIMIT: 16,
  ACCEPT: 17,
  Q_BLOCK1: 19,
  LOCATION_QUERY: 20,
  BLOCK2: 23,
  BLOCK1: 27,
  SIZE2: 28,
  Q_BLOCK2: 31,
  PROXY_URI: 35,
  PROXY_SCHEME: 39,
  SIZE1: 60,
  ECHO: 252,
  NO_RESPONSE: 258,
  REQUEST_TAG: 292,
} as const;

/** How each option thinggate understands is carried into envelope headers. */
export type OptionFormat = 'string' | 'opaque' | 'uint' | 'empty';

/** Options understood by the request path: name (lower-cased, as a header) and format. */
export const KNOWN_OPTIONS: ReadonlyMap<number, { readonly name: string; readonly format: OptionFormat }> = new Map([
  [OPT.IF_MATCH, { name: 'if-match', format: 'opaque' }],
  [OPT.URI_HOST, { name: 'uri-host', format: 'string' }],
  [OPT.ETAG, { name: 'etag', format: 'opaque' }],
  [OPT.IF_NONE_MATCH, { name: 'if-none-match', format: 'empty' }],
  [OPT.OBSERVE, { name: 'observe', format: 'uint' }],
  [OPT.URI_PORT, { name: 'uri-port', format: 'uint' }],
  [OPT.URI_PATH, { name: 'uri-path', format: 'string' }],
  [OPT.CONTENT_FORMAT, { name: 'content-format', format: 'uint' }],
  [OPT.MAX_AGE, { name: 'max-age', format: 'uint' }],
  [OPT.URI_QUERY, { name: 'uri-query', format: 'string' }],
  [OPT.HOP_LIMIT, { name: 'hop-limit', format: 'uint' }],
  [OPT.ACCEPT, { name: 'accept', format: 'uint' }],
  [OPT.BLOCK2, { name: 'block2', format: 'uint' }],
  [OPT.BLOCK1, { name: 'block1', format: 'uint' }],
  [OPT.SIZE2, { name: 'size2', format: 'uint' }],
  [OPT.SIZE1, { name: 'size1', format: 'uint' }],
  [OPT.ECHO, { name: 'echo', format: 'opaque' }],
  [OPT.NO_RESPONSE, { name: 'no-response', format: 'uint' }],
  [OPT.REQUEST_TAG, { name: 'request-tag', format: 'opaque' }],
]);

/** RFC 7252 §5.4.1: odd option numbers are critical. */
export function isCritical(n: number): boolean {
  return (n & 1) === 1;
}

/** Decodes a uint option value (RFC 7252 §3.2); at most 4 bytes are meaningful here. */
export function readUint(v: Buffer): number {
  let n = 0;
  for (let i = 0; i < v.length; i++) n = n * 256 + v[i]!;
  return n;
}

/** Encodes a uint in the fewest bytes (0 → zero-length, RFC 7252 §3.2). */
export function uint(n: number): Buffer {
  if (n === 0) return Buffer.alloc(0);
  if (n < 0x100) return Buffer.from([n]);
  if (n < 0x10000) return Buffer.from([n >> 8, n & 0xff]);
  if (n < 0x1000000) return Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A Block1/Block2 value (RFC 7959 §2.2). */
export interface Block {
  readonly num: number;
  readonly more: boolean;
  /** Size exponent: block size is 2^(szx+4). 7 is reserved (BERT, RFC 8323). */
  readonly szx: number;
}

export function readBlock(v: Buffer): Block | undefined {
  if (v.length > 3) return undefined;
  const n = readUint(v);
  return { num: n >>> 4, more: (n & 8) !== 0, szx: n & 7 };
}

export function blockValue(b: Block): Buffer {
  return uint(b.num * 16 + (b.more ? 8 : 0) + b.szx);
}

export function blockSize(szx: number): number {
  return 1 << (szx + 4);
}

export function szxFor(size: number): number {
  let szx = 0;
  while (szx < 6 && blockSize(szx + 1) <= size) szx++;
  return szx;
}

/**
 * Parsing the PROXY protocol header a TCP load balancer puts in front of a
 * connection's first byte ("The PROXY protocol, Versions 1 & 2", HAProxy,
 * 2020/03/05): version 1 is one text line, version 2 a binary block. Pure
 * functions over the bytes received so far; proxy-protocol.ts reads them.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** §2.2: the 12-byte signature that opens a version 2 header. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** §2.1: a version 1 line is at most 107 bytes, CRLF included. */
const V1_MAX = 107;
/** §2.2: signature, version/command, family, length. */
const V2_FIXED = 16;
/**
 * The longest version 2 header accepted. The length field allows 65,535 bytes
 * of addresses and TLVs; a balancer's TLVs (ALPN, authority, unique id, SSL
 * facts) fit well within this, and a peer cannot make us buffer more.
 */
export const V2_MAX = 4096;

/** The client a header names, or `local` when the connection's own endpoints stand (LOCAL, UNKNOWN, UNSPEC). */
export type ProxySource = { readonly address: string; readonly port: number; readonly family: 'IPv4' | 'IPv6' } | 'local';

export type ProxyParse =
  /** More bytes are needed to decide. */
  | { readonly status: 'incomplete' }
  /** The bytes do not begin with either version's signature. */
  | { readonly status: 'absent' }
  | { readonly status: 'invalid'; readonly clause: string; readonly reason: string }
  /** `length`: the header's bytes, to drop before the protocol's first byte. */
  | { readonly status: 'ok'; readonly version: 1 | 2; readonly source: ProxySource; readonly length: number };

/** Reads a header at the start of `buf` (the bytes received so far). */
export function parseProxyHeader(buf: Buffer): ProxyParse {
  if (startsLike(buf, V2_SIGNATURE)) return buf.length < V2_SIGNATURE.length ? INCOMPLETE : parseV2(buf);
  if (startsLike(buf, V1_PREFIX)) return buf.length < V1_PREFIX.length ? INCOMPLETE : parseV1(buf);
  return { status: 'absent' };
}

const INCOMPLETE: ProxyParse = { status: 'incomplete' };

/** True when `buf` and `prefix` agree on their common length. */
function startsLike(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return buf.subarray(0, n).equals(prefix.subarray(0, n));
}

function invalid(version: 1 | 2, reason: string): ProxyParse {
  return { status: 'invalid', clause: version === 1 ? 'PROXY-2.1' : 'PROXY-2.2', reason };
}

/** §2.1: "PROXY TCP4|TCP6 <src> <dst> <srcport> <dstport>\r\n" or "PROXY UNKNOWN ...\r\n". */
function parseV1(buf: Buffer): ProxyParse {
  const end = buf.subarray(0, V1_MAX).indexOf('\r\n', 0, 'latin1');
  if (end < 0) return buf.length >= V1_MAX ? invalid(1, `no CRLF within ${V1_MAX} bytes`) : INCOMPLETE;
  const line = buf.toString('latin1', 0, end);
  const length = end + 2;
  const fields = line.split(' ');
  if (fields[1] === 'UNKNOWN') return { status: 'ok', version: 1, source: 'local', length };
  if (fields.length !== 6) return invalid(1, `expected 6 fields, got ${fields.length}`);
  const [, proto, src, dst, srcPort, dstPort] = fields as [string, string, string, string, string, string];
  const isAddress = proto === 'TCP4' ? isIPv4 : proto === 'TCP6' ? isIPv6 : undefined;
  if (!isAddress) return invalid(1, `unknown protocol '${proto.slice(0, 16)}'`);
  if (!isAddress(src) || !isAddress(dst)) return invalid(1, `addresses are not ${proto}`);
  const port = portOf(srcPort);
  if (port === undefined || portOf(dstPort) === undefined) return invalid(1, 'ports must be decimal 0-65535 without leading zeros');
  return { status: 'ok', version: 1, source: { address: src, port, family: proto === 'TCP4' ? 'IPv4' : 'IPv6' }, length };
}

function portOf(s: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

/** §2.2: signature, 0x2 version with LOCAL (0) or PROXY (1), family/transport, length, addresses, TLVs (ignored). */
function parseV2(buf: Buffer): ProxyParse {
  if (buf.length < V2_FIXED) return INCOMPLETE;
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return invalid(2, `version ${verCmd >> 4} (expected 2)`);
  const command = verCmd & 0x0f;
  if (command > 1) return invalid(2, `command ${command} (expected LOCAL or PROXY)`);
  const length = V2_FIXED + buf.readUInt16BE(14);
  if (length > V2_MAX) return invalid(2, `header of ${length} bytes (at most ${V2_MAX} accepted)`);
  if (buf.length < length) return INCOMPLETE;
  // §2.2: a LOCAL connection (the balancer's own health check) keeps its real endpoints.
  if (command === 0) return { status: 'ok', version: 2, source: 'local', length };
  const family = buf[13]! >> 4;
  const transport = buf[13]! & 0x0f;
  // AF_UNSPEC, or AF_UNIX: no client address a TCP listener can use; the connection's own stands.
  if (family === 0 || family === 3) return { status: 'ok', version: 2, source: 'local', length };
  if (family > 3) return invalid(2, `address family ${family}`);
  if (transport !== 1) return invalid(2, `transport ${transport} on a stream listener (expected STREAM)`);
  const v4 = family === 1;
  const need = v4 ? 12 : 36;
  if (length - V2_FIXED < need) return invalid(2, `${length - V2_FIXED} address bytes for ${v4 ? 'AF_INET' : 'AF_INET6'} (need ${need})`);
  const at = V2_FIXED;
  const address = v4 ? buf.subarray(at, at + 4).join('.') : ipv6Text(buf.subarray(at, at + 16));
  const port = buf.readUInt16BE(at + (v4 ? 8 : 32));
  return { status: 'ok', version: 2, source: { address, port, family: v4 ? 'IPv4' : 'IPv6' }, length };
}

/** RFC 5952 text of 16 address bytes (the longest zero run compressed). */
function ipv6Text(b: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) return `::ffff:${b.subarray(12).join('.')}`;
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

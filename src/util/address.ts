/** Source-address keys for per-source limits (CoAP request rate, guard rate limits). */

/**
 * The rate-limit key of a source address: the IPv4 address (also when
 * written IPv4-mapped, `::ffff:a.b.c.d`) masked to its first `ipv4PrefixBits`
 * bits (32, the default, keeps it whole; otherwise written `a.b.c.d/bits`),
 * or the IPv6 address masked to its first `prefixBits` bits, written
 * `hex:hex:…/bits`.
 */
export function sourceKey(address: string, prefixBits: number, ipv4PrefixBits = 32): string {
  const bare = address.replace(/%.*$/, '').toLowerCase();
  const mapped = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped) return ipv4PrefixBits >= 32 ? mapped[1]! : ipv4Prefix(mapped[1]!, ipv4PrefixBits);
  if (!bare.includes(':')) return bare;
  const groups = ipv6Groups(bare);
  if (!groups) return bare;
  const out: string[] = [];
  for (let i = 0; i < 8; i++) {
    const keep = Math.max(0, Math.min(16, prefixBits - i * 16));
    out.push((keep === 0 ? 0 : groups[i]! & (0xffff << (16 - keep)) & 0xffff).toString(16));
  }
  return `${out.join(':')}/${prefixBits}`;
}

/** The eight 16-bit groups of an IPv6 address (`::` expanded, a trailing dotted IPv4 part read as two groups). */
function ipv6Groups(address: string): number[] | undefined {
  let text = address;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const b = v4.slice(1, 5).map(Number);
    text = `${text.slice(0, v4.index)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (g: string): number[] => (g === '' ? [] : g.split(':').map((x) => (/^[0-9a-f]{1,4}$/.test(x) ? parseInt(x, 16) : NaN)));
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  const zeros = halves.length === 2 ? 8 - head.length - tail.length : 0;
  if (zeros < 0) return undefined;
  const all = [...head, ...Array<number>(zeros).fill(0), ...tail];
  return all.length === 8 && all.every((g) => !Number.isNaN(g)) ? all : undefined;
}

/** `a.b.c.d` masked to its first `bits` bits, written `a.b.c.d/bits`. */
function ipv4Prefix(address: string, bits: number): string {
  const n = address.split('.').reduce((acc, b) => acc * 256 + (Number(b) & 255), 0);
  const mask = bits <= 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const m = (n & mask) >>> 0;
  return `${m >>> 24}.${(m >>> 16) & 255}.${(m >>> 8) & 255}.${m & 255}/${bits}`;
}

/**
 * Checks that an AMQP 1.0 performative's encoding stays inside its bounds
 * (AMQP 1.0 §1.2, §1.6) before rhea decodes it. rhea's reader trusts every
 * size it reads: a string or list that claims more bytes than its list or
 * frame holds is silently cut short, so a malformed `open` decodes as a
 * valid one. Here each value must fit in the compound or array that holds
 * it, and the performative in its frame; nesting is bounded.
 */

/** A value's end offset, `short` when the bytes so far end inside it, or why it is invalid. */
export type Measured = number | 'short' | { readonly invalid: string };

/** Deeper nesting than any performative needs (a filter map inside a source inside attach). */
const MAX_DEPTH = 32;

/** Fixed widths by subcategory, the constructor's high nibble (AMQP 1.0 §1.2): 0x4 none, 0x5 one byte, … 0x9 sixteen. */
const FIXED_WIDTH: readonly (number | undefined)[] = [undefined, undefined, undefined, undefined, 0, 1, 2, 4, 8, 16];

/**
 * Measures the value that starts (with its constructor) at `at`, given the
 * bytes available up to `end`.
 */
export function measure(buf: Buffer, at: number, end: number, depth = 0): Measured {
  if (depth > MAX_DEPTH) return { invalid: `values nested more than ${MAX_DEPTH} deep` };
  if (at >= end) return 'short';
  const code = buf[at]!;
  if (code !== 0x00) return measureValue(code, buf, at + 1, end, depth);
  // A described value: descriptor, then the value with its own constructor (§1.2).
  const d = measure(buf, at + 1, end, depth + 1);
  if (typeof d !== 'number') return d;
  return measure(buf, d, end, depth + 1);
}

/** Measures a value of constructor `code` whose data starts at `at`. */
function measureValue(code: number, buf: Buffer, at: number, end: number, depth: number): Measured {
  const sub = code >> 4;
  const fixed = FIXED_WIDTH[sub];
  if (fixed !== undefined) return at + fixed <= end ? at + fixed : 'short';
  if (sub < 0xa) return { invalid: `invalid constructor 0x${code.toString(16).padStart(2, '0')}` };
  const sizeWidth = (sub & 1) === 0 ? 1 : 4; // 0xa/0xc/0xe: one byte; 0xb/0xd/0xf: four (§1.2)
  if (at + sizeWidth > end) return 'short';
  const size = sizeWidth === 1 ? buf[at]! : buf.readUInt32BE(at);
  const start = at + sizeWidth;
  const stop = start + size;
  if (sub <= 0xb) return stop <= end ? stop : 'short';
  if (stop > end) return 'short';
  // A list, map or array: the count and every element lie within its size, all of which is here.
  if (size < sizeWidth) return { invalid: 'a compound shorter than its count' };
  const count = sizeWidth === 1 ? buf[start]! : buf.readUInt32BE(start);
  const first = start + sizeWidth;
  if (sub <= 0xd) return elements(count, stop, (p) => measure(buf, p, stop, depth + 1), first);
  // An array: one constructor (possibly described), then `count` values without one (§1.2).
  let p = first;
  while (p < stop && buf[p] === 0x00) {
    const d = measure(buf, p + 1, stop, depth + 1);
    if (typeof d !== 'number') return inside(d);
    p = d;
  }
  if (p >= stop) return { invalid: 'an array without an element constructor' };
  const elementCode = buf[p]!;
  const width = FIXED_WIDTH[elementCode >> 4];
  // Fixed-width elements are counted, not walked (a zero-width element could repeat 2^32 times).
  if (width !== undefined) return p + 1 + count * width <= stop ? stop : { invalid: 'array elements overrun the array' };
  return elements(count, stop, (q) => measureValue(elementCode, buf, q, stop, depth + 1), p + 1);
}

/** Walks `count` elements from `from`; each must end within `stop`. */
function elements(count: number, stop: number, one: (at: number) => Measured, from: number): Measured {
  // Each element takes at least one byte, so the walk ends within the compound's size.
  let p = from;
  for (let i = 0; i < count; i++) {
    const m = one(p);
    if (typeof m !== 'number') return inside(m);
    p = m;
  }
  return stop;
}

function inside(m: 'short' | { readonly invalid: string }): Measured {
  return m === 'short' ? { invalid: 'a value overruns the list, map or array that holds it' } : m;
}

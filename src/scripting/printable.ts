/** Rendering decisions for people: bytes become text when they are printable UTF-8, else base64. */

/** A decision as JSON-friendly data: bytes shown as text when they are UTF-8, else base64. */
export function printable(value: unknown): unknown {
  if (value instanceof Uint8Array) {
    const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    const text = b.toString('utf8');
    return Buffer.from(text, 'utf8').equals(b) && !/[\x00-\x08\x0e-\x1f]/.test(text) ? text : { base64: b.toString('base64') };
  }
  if (Array.isArray(value)) return value.map(printable);
  if (value !== null && typeof value === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) o[k] = printable(v);
    return o;
  }
  return value;
}

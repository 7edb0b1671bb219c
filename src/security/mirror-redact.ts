/** Payload redaction for the mirror: values named by JSON Pointers (RFC 6901) replaced. */

/** The reference tokens of a JSON Pointer (RFC 6901 §3–4: `~1` is `/`, `~0` is `~`). */
function tokens(pointer: string): string[] {
  return pointer
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * `payload` (JSON) with the value at each pointer replaced by `mark`, or
 * undefined when the payload is not JSON (the caller then leaves it out whole,
 * since it cannot tell where the secrets are). Pointers that name nothing are
 * ignored.
 */
export function redactJson(payload: Buffer, pointers: readonly string[], mark: string): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  for (const pointer of pointers) {
    const path = tokens(pointer);
    let parent: unknown = doc;
    for (let i = 0; i < path.length - 1 && parent !== undefined; i++) parent = child(parent, path[i]!);
    const last = path[path.length - 1]!;
    if (parent !== null && typeof parent === 'object' && Object.hasOwn(parent, last)) {
      // defineProperty, not assignment: a key named `__proto__` is data here (JSON.parse made it an own property).
      Object.defineProperty(parent, last, { value: mark, enumerable: true, writable: true, configurable: true });
    }
  }
  return JSON.stringify(doc);
}

function child(node: unknown, key: string): unknown {
  if (node === null || typeof node !== 'object') return undefined;
  return Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
}

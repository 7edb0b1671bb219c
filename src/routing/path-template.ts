/**
 * Request path templates: `{clientId}`, `{address}`, `{address.N}` (N-th
 * level, 0-based), `{listener}`, `{protocol}` and `{id}`, compiled once.
 * Substituted values are percent-encoded per RFC 3986 so a topic can never
 * inject a query or climb out of the path ('/' in `{address}` stays a
 * separator; '.' and '..' levels are encoded).
 */
import type { Envelope } from '../envelope/index.js';

type Part = string | ((env: Envelope) => string);

export type CompiledTemplate = (env: Envelope) => string;

export function compilePathTemplate(template: string): CompiledTemplate {
  const parts: Part[] = [];
  let last = 0;
  for (const m of template.matchAll(/\{([^}]*)\}/g)) {
    if (m.index! > last) parts.push(template.slice(last, m.index));
    parts.push(placeholder(m[1]!));
    last = m.index! + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  if (parts.length === 1 && typeof parts[0] === 'string') {
    const s = parts[0];
    return () => s;
  }
  return (env) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(env);
    return out;
  };
}

function placeholder(name: string): (env: Envelope) => string {
  switch (name) {
    case 'clientId':
      return (env) => encodeSegment(env.source.clientId);
    case 'address':
      return (env) => encodeAddress(env.address);
    case 'listener':
      return (env) => encodeSegment(env.listener);
    case 'protocol':
      return (env) => env.protocol;
    case 'id':
      return (env) => env.id;
    default: {
      const m = /^address\.(\d+)$/.exec(name);
      if (!m) throw new Error(`unknown placeholder {${name}}`);
      const n = Number(m[1]);
      return (env) => encodeSegment(env.address.split('/')[n] ?? '');
    }
  }
}

/** Characters encodeURIComponent leaves as they are, plus the level separator. */
const UNRESERVED_PATH = /^[A-Za-z0-9\-_.!~*'()/]*$/;
/** A '.' or '..' level, which would change the path's meaning. */
const DOT_LEVEL = /(?:^|\/)\.\.?(?:\/|$)/;

/** Encodes each level of an address; an address that needs no encoding (the usual topic) is returned as it is. */
export function encodeAddress(address: string): string {
  if (UNRESERVED_PATH.test(address) && !DOT_LEVEL.test(address)) return address;
  return address.split('/').map(encodeSegment).join('/');
}

/** Percent-encodes one path segment; empty, '.' and '..' segments cannot change the path's meaning. */
export function encodeSegment(s: string): string {
  if (s === '.') return '%2E';
  if (s === '..') return '%2E%2E';
  return encodeURIComponent(s);
}

/**
 * HTTP device ingress: the pure parts — address from the path, headers for
 * the envelope, Basic credentials, and the Outcome → HTTP response mapping.
 */
import type { TgErrorCode } from '../../error-codes.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { Outcome } from '../../envelope/index.js';

/** RFC 9110 §7.6.1 hop-by-hop fields, credentials (never forwarded) and fields the envelope carries itself. */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'authorization',
  'cookie',
  'content-length',
  'content-type',
  'expect',
  // Set by thinggate from the query string; a device cannot supply it.
  'uri-query',
]);

export type AddressResult = { readonly ok: true; readonly address: string } | { readonly ok: false; readonly status: 400 | 404; readonly reason: string };

/** The address under `prefix`: the rest of the path, each segment URL-decoded (a '%2F' stays inside its segment). */
export function addressOf(path: string, prefix: string): AddressResult {
  if (!path.startsWith(prefix)) return { ok: false, status: 404, reason: `not under ${prefix}` };
  const rest = path.slice(prefix.length);
  if (rest.length === 0) return { ok: false, status: 404, reason: `no address after ${prefix}` };
  const segments = rest.split('/');
  for (let i = 0; i < segments.length; i++) {
    try {
      segments[i] = decodeURIComponent(segments[i]!);
    } catch {
      return { ok: false, status: 400, reason: `bad percent-encoding in path segment ${i}` };
    }
  }
  return { ok: true, address: segments.join('/') };
}

/** Envelope headers: lower-cased (node already does), hop-by-hop and credential fields dropped, repeats joined. */
export function envelopeHeaders(h: IncomingHttpHeaders, query: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in h) {
    if (DROPPED.has(name)) continue;
    const v = h[name];
    if (v === undefined) continue;
    out[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  if (query !== undefined && query.length > 0) out['uri-query'] = query;
  return out;
}

/** Basic credentials (RFC 7617) from an Authorization header, or undefined. */
export function basicCredentials(auth: string | undefined): { username: string; password: Buffer } | undefined {
  if (auth === undefined || auth.length < 7 || auth.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const decoded = Buffer.from(auth.slice(6).trim(), 'base64');
  const colon = decoded.indexOf(0x3a);
  if (colon < 0) return undefined;
  return { username: decoded.subarray(0, colon).toString('utf8'), password: decoded.subarray(colon + 1) };
}

/** The token of `Authorization: Bearer TOKEN` (RFC 6750 §2.1). */
export function bearerToken(auth: string | undefined): string | undefined {
  if (auth === undefined || auth.length < 8 || auth.slice(0, 7).toLowerCase() !== 'bearer ') return undefined;
  const token = auth.slice(7).trim();
  return token.length > 0 ? token : undefined;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** Codes of back-end and pool failures (prefixes, not codes of their own). */
const UPSTREAM_CODE = /^TG_ERR_(?:UPSTREAM|POOL)_/;

/**
 * The reason a device may see. Upstream reasons name internal back-end URLs,
 * so devices get a generic text with the status instead (the log keeps the detail).
 */
export function publicReason(outcome: Exclude<Outcome, { kind: 'accepted' }>): string {
  if (UPSTREAM_CODE.test(outcome.code)) {
    return outcome.kind === 'rejected' ? `the back-end refused the message (${outcome.status})` : 'no back-end could take the message now';
  }
  return outcome.reason;
}

/** A JSON error body `{code, reason}` with its status. */
export function errorAnswer(status: number, code: TgErrorCode, reason: string, headers: Record<string, string> = {}): HttpAnswer {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: Buffer.from(JSON.stringify({ code, reason })) };
}

/**
 * Outcome → HTTP: accepted with a reply → its status (200 unless the reply
 * says another 2xx), body and content type; accepted without → 202;
 * rejected → its 4xx (or 5xx) with `{code, reason}`; unavailable → 503/504
 * with Retry-After (seconds, RFC 9110 §10.2.3).
 */
export function outcomeAnswer(outcome: Outcome): HttpAnswer {
  switch (outcome.kind) {
    case 'accepted': {
      const r = outcome.reply;
      if (!r) return { status: 202, headers: {}, body: Buffer.alloc(0) };
      let status = r.status >= 200 && r.status < 300 ? r.status : 200;
      if ((status === 204 || status === 205) && r.payload.length > 0) status = 200; // RFC 9110 §15.3.5: 204 has no content
      return { status, headers: r.contentType !== undefined ? { 'content-type': r.contentType } : {}, body: r.payload };
    }
    case 'rejected':
      return errorAnswer(outcome.status >= 400 && outcome.status < 600 ? outcome.status : 400, outcome.code, publicReason(outcome));
    case 'unavailable': {
      const seconds = Math.max(1, Math.ceil((outcome.retryAfterMs ?? 1000) / 1000));
      return errorAnswer(outcome.status === 504 ? 504 : 503, outcome.code, publicReason(outcome), { 'retry-after': String(seconds) });
    }
  }
}

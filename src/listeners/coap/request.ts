/**
 * Reading a CoAP request's options in one pass (RFC 7252 §5.10): the
 * address (Uri-Path segments joined by '/'), the query (Uri-Query, §6.5),
 * the transfer options thinggate acts on (Block1/Block2/Size1, Observe,
 * Echo, Request-Tag, No-Response) and the rest as envelope headers.
 */
import { mediaTypeForCoapFormat } from '../../envelope/index.js';
import type { CoapMessage } from './codec.js';
import { KNOWN_OPTIONS, OPT, isCritical, readBlock, readUint, type Block } from './options.js';

export interface CoapRequest {
  readonly method: string;
  /** Uri-Path segments joined by '/'; '' for the root resource. */
  readonly address: string;
  /** Uri-Query options joined by '&' (RFC 7252 §6.5), or undefined. */
  readonly query?: string;
  readonly contentFormat?: number;
  readonly accept?: number;
  readonly observe?: number;
  readonly block1?: Block;
  readonly block2?: Block;
  readonly size1?: number;
  readonly echo?: Buffer;
  readonly requestTag?: Buffer;
  /** RFC 7967 suppression bits (2 = 2.xx, 8 = 4.xx, 16 = 5.xx). */
  readonly noResponse?: number;
  readonly headers?: Record<string, string>;
}

/** Why a request's options cannot be processed, with the response code class to use. */
export interface OptionProblem {
  /** 'bad-option' → 4.02 (RFC 7252 §5.4.1); 'proxy' → 5.05 (§5.7.2). */
  readonly kind: 'bad-option' | 'proxy';
  readonly reason: string;
}

/** Options consumed by the listener itself; they do not appear in the headers. */
const TRANSPORT = new Set<number>([
  OPT.URI_PATH,
  OPT.URI_QUERY,
  OPT.CONTENT_FORMAT,
  OPT.OBSERVE,
  OPT.BLOCK1,
  OPT.BLOCK2,
  OPT.SIZE1,
  OPT.SIZE2,
  OPT.ECHO,
  OPT.REQUEST_TAG,
  OPT.NO_RESPONSE,
]);

export function readRequest(msg: CoapMessage, method: string): CoapRequest | OptionProblem {
  let address = '';
  let pathCount = 0;
  let query: string | undefined;
  let headers: Record<string, string> | undefined;
  const r: { -readonly [K in keyof CoapRequest]?: CoapRequest[K] } = {};
  for (const o of msg.options) {
    const n = o.number;
    switch (n) {
      case OPT.URI_PATH:
        address = pathCount++ === 0 ? o.value.toString('utf8') : `${address}/${o.value.toString('utf8')}`;
        continue;
      case OPT.URI_QUERY:
        query = query === undefined ? o.value.toString('utf8') : `${query}&${o.value.toString('utf8')}`;
        continue;
      case OPT.CONTENT_FORMAT:
        r.contentFormat = readUint(o.value);
        continue;
      case OPT.ACCEPT:
        r.accept = readUint(o.value);
        break;
      case OPT.OBSERVE:
        r.observe = readUint(o.value);
        continue;
      case OPT.BLOCK1:
      case OPT.BLOCK2: {
        const b = readBlock(o.value);
        if (!b) return { kind: 'bad-option', reason: `Block${n === OPT.BLOCK1 ? 1 : 2} value longer than 3 bytes` };
        // szx 7 is reserved for BERT, which only exists over reliable transports (RFC 8323 §6).
        if (b.szx === 7) return { kind: 'bad-option', reason: 'block size exponent 7 (BERT) over UDP' };
        if (n === OPT.BLOCK1) r.block1 = b;
        else r.block2 = b;
        continue;
      }
      case OPT.SIZE1:
        r.size1 = readUint(o.value);
        continue;
      case OPT.ECHO:
        r.echo = o.value;
        continue;
      case OPT.REQUEST_TAG:
        r.requestTag = o.value;
        continue;
      case OPT.NO_RESPONSE:
        r.noResponse = readUint(o.value);
        continue;
      case OPT.PROXY_URI:
      case OPT.PROXY_SCHEME:
        return { kind: 'proxy', reason: 'thinggate is not a forward proxy' };
      default:
        break;
    }
    if (TRANSPORT.has(n)) continue;
    const known = KNOWN_OPTIONS.get(n);
    // RFC 7252 §5.4.1: an unrecognised critical option in a request → 4.02 Bad Option.
    if (!known && isCritical(n)) return { kind: 'bad-option', reason: `unrecognised critical option ${n}` };
    headers ??= {};
    const name = known?.name ?? `coap-option-${n}`;
    let value: string;
    if (n === OPT.ACCEPT) value = mediaTypeForCoapFormat(r.accept!) ?? String(r.accept);
    else if (!known || known.format === 'opaque') value = o.value.toString('hex');
    else if (known.format === 'uint') value = String(readUint(o.value));
    else value = o.value.toString('utf8');
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  if (query !== undefined) (headers ??= {})['uri-query'] = query;
  if (r.contentFormat !== undefined) (headers ??= {})['content-format'] = String(r.contentFormat);
  return { method, address, ...(query !== undefined && { query }), ...(headers && { headers }), ...r } as CoapRequest;
}

/** True when `x` is a problem rather than a request. */
export function isProblem(x: CoapRequest | OptionProblem): x is OptionProblem {
  return (x as OptionProblem).kind !== undefined;
}

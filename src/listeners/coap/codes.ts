/**
 * CoAP method and response codes, and the mapping of thinggate Outcomes
 * (HTTP statuses) to CoAP response codes per RFC 8075 §7 (HTTP→CoAP).
 */
import type { Outcome } from '../../envelope/index.js';
import { code } from './codec.js';

/** Request method codes (RFC 7252 §12.1.1, RFC 8132). */
export const METHODS: readonly (string | undefined)[] = [undefined, 'GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'IPATCH'];

export const CREATED = code(2, 1);
export const DELETED = code(2, 2);
export const VALID = code(2, 3);
export const CHANGED = code(2, 4);
export const CONTENT = code(2, 5);
export const CONTINUE = code(2, 31);
export const BAD_REQUEST = code(4, 0);
export const UNAUTHORIZED = code(4, 1);
export const BAD_OPTION = code(4, 2);
export const FORBIDDEN = code(4, 3);
export const NOT_FOUND = code(4, 4);
export const METHOD_NOT_ALLOWED = code(4, 5);
export const NOT_ACCEPTABLE = code(4, 6);
export const REQUEST_ENTITY_INCOMPLETE = code(4, 8);
/** RFC 8132 §5. */
export const CONFLICT = code(4, 9);
export const PRECONDITION_FAILED = code(4, 12);
export const REQUEST_ENTITY_TOO_LARGE = code(4, 13);
export const UNSUPPORTED_CONTENT_FORMAT = code(4, 15);
export const TOO_MANY_REQUESTS = code(4, 29);
export const INTERNAL_SERVER_ERROR = code(5, 0);
export const NOT_IMPLEMENTED = code(5, 1);
export const BAD_GATEWAY = code(5, 2);
export const SERVICE_UNAVAILABLE = code(5, 3);
export const GATEWAY_TIMEOUT = code(5, 4);
export const PROXYING_NOT_SUPPORTED = code(5, 5);

/** RFC 8075 §7: HTTP 4xx statuses with a CoAP counterpart; any other 4xx becomes 4.00. */
const CLIENT_ERRORS: ReadonlyMap<number, number> = new Map([
  [400, BAD_REQUEST],
  [401, UNAUTHORIZED],
  [403, FORBIDDEN],
  [404, NOT_FOUND],
  [405, METHOD_NOT_ALLOWED],
  [406, NOT_ACCEPTABLE],
  [409, CONFLICT],
  [412, PRECONDITION_FAILED],
  [413, REQUEST_ENTITY_TOO_LARGE],
  [415, UNSUPPORTED_CONTENT_FORMAT],
  [422, code(4, 22)], // RFC 8132 §5
  [429, TOO_MANY_REQUESTS], // RFC 8516
]);

/**
 * The 2.xx code for an accepted outcome (RFC 8075 §7): 201 → 2.01 Created;
 * a reply with a payload → 2.05 Content; otherwise by method: DELETE → 2.02
 * Deleted, GET/FETCH → 2.05 Content, POST/PUT/PATCH/iPATCH → 2.04 Changed.
 */
export function successCode(method: string, status: number, hasPayload: boolean): number {
  if (status === 201) return CREATED;
  if (hasPayload) return CONTENT;
  switch (method) {
    case 'DELETE':
      return DELETED;
    case 'GET':
    case 'FETCH':
      return CONTENT;
    default:
      return CHANGED;
  }
}

/** The 4.xx/5.xx code for a failed outcome (RFC 8075 §7). */
export function errorCode(outcome: Exclude<Outcome, { kind: 'accepted' }>): number {
  const s = outcome.status;
  if (s >= 400 && s < 500) return CLIENT_ERRORS.get(s) ?? BAD_REQUEST;
  if (outcome.kind === 'unavailable') {
    if (s === 504) return GATEWAY_TIMEOUT;
    if (s === 503) return SERVICE_UNAVAILABLE;
    return BAD_GATEWAY;
  }
  if (s === 501) return NOT_IMPLEMENTED;
  if (s === 502) return BAD_GATEWAY;
  if (s === 503) return SERVICE_UNAVAILABLE;
  if (s === 504) return GATEWAY_TIMEOUT;
  return INTERNAL_SERVER_ERROR;
}

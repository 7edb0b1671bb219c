/**
 * The Outcome: what the pipeline hands back to a listener for one Envelope.
 * Statuses are HTTP status codes; each listener maps them into its protocol
 * (MQTT 5 reason codes, CoAP codes per RFC 8075, AMQP dispositions, HTTP).
 */
import type { TgErrorCode } from '../error-codes.js';

/** A reply for the device: the back-end's response body, or a script's `reply()`. */
export interface Reply {
  readonly payload: Buffer;
  readonly contentType?: string;
  /** HTTP-style status of the reply (200, 201, 204, ...). */
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export type Outcome =
  /** The message was taken: a back-end answered 2xx, it was spooled, dropped on purpose, or delivered to devices. */
  | { readonly kind: 'accepted'; readonly status: number; readonly reply?: Reply; readonly dropped?: boolean }
  /**
   * The message is refused for good; do not retry. `status` is a 4xx HTTP status.
   * `reason` may be sent to the device; `detail`, when present, is for the log only (back-end URLs, response bodies).
   */
  | { readonly kind: 'rejected'; readonly status: number; readonly code: TgErrorCode; readonly reason: string; readonly detail?: string }
  /** The message could not be handled now; the device may retry. `status` is 503 or 504. */
  | {
      readonly kind: 'unavailable';
      readonly status: number;
      readonly code: TgErrorCode;
      readonly reason: string;
      /** For the log only, like a rejection's. */
      readonly detail?: string;
      readonly retryAfterMs?: number;
    };

/** The refusal branch of Outcome. */
export type Rejected = Extract<Outcome, { readonly kind: 'rejected' }>;
/** The try-again-later branch of Outcome. */
export type Unavailable = Extract<Outcome, { readonly kind: 'unavailable' }>;

export const ACCEPTED: Outcome = Object.freeze({ kind: 'accepted', status: 200 });

export function accepted(status = 200, reply?: Reply): Outcome {
  return reply ? { kind: 'accepted', status, reply } : status === 200 ? ACCEPTED : { kind: 'accepted', status };
}

export function rejected(status: number, code: TgErrorCode, reason: string): Rejected {
  return { kind: 'rejected', status, code, reason };
}

export function unavailable(code: TgErrorCode, reason: string, retryAfterMs?: number, status = 503): Unavailable {
  return retryAfterMs === undefined ? { kind: 'unavailable', status, code, reason } : { kind: 'unavailable', status, code, reason, retryAfterMs };
}

/**
 * Outcome → AMQP delivery state (AMQP 1.0 §3.4). Accepted on 2xx, rejected
 * with an `amqp:` error condition on 4xx, released (or modified with
 * delivery-failed) when unavailable, so the sender may retry.
 */
import type { Outcome } from '../../envelope/index.js';

export interface AmqpErrorCondition {
  readonly condition: string;
  readonly description: string;
}

export type AmqpDisposition =
  | { readonly state: 'accepted' }
  | { readonly state: 'rejected'; readonly error: AmqpErrorCondition }
  | { readonly state: 'released' }
  | { readonly state: 'modified'; readonly deliveryFailed: true };

/** The `amqp:` error condition (§2.8.15) for a rejection status. */
export function conditionForStatus(status: number): string {
  switch (status) {
    case 401:
    case 403:
      return 'amqp:unauthorized-access';
    case 404:
      return 'amqp:not-found';
    case 400:
    case 415:
      return 'amqp:decode-error';
    case 413:
    case 429:
      return 'amqp:resource-limit-exceeded';
    case 501:
      return 'amqp:not-implemented';
    default:
      return 'amqp:precondition-failed';
  }
}

/** Longest description sent to a device (the reason may quote a back-end body). */
const DESCRIPTION_MAX = 256;

export function dispositionFor(outcome: Outcome, unavailableAs: 'released' | 'modified'): AmqpDisposition {
  switch (outcome.kind) {
    case 'accepted':
      return { state: 'accepted' };
    case 'rejected':
      return {
        state: 'rejected',
        error: { condition: conditionForStatus(outcome.status), description: outcome.reason.slice(0, DESCRIPTION_MAX) },
      };
    case 'unavailable':
      return unavailableAs === 'modified' ? { state: 'modified', deliveryFailed: true } : { state: 'released' };
  }
}

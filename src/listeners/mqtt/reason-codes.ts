/**
 * MQTT 5.0 reason codes (§2.4) used by the listener, and the mapping from an
 * Outcome to the PUBACK/PUBREC reason code a v5 client sees.
 */
import type { Outcome } from '../../envelope/index.js';

export const RC = {
  SUCCESS: 0x00,
  NORMAL_DISCONNECTION: 0x00,
  GRANTED_QOS_0: 0x00,
  DISCONNECT_WITH_WILL: 0x04,
  NO_MATCHING_SUBSCRIBERS: 0x10,
  NO_SUBSCRIPTION_EXISTED: 0x11,
  UNSPECIFIED_ERROR: 0x80,
  MALFORMED_PACKET: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC_ERROR: 0x83,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84,
  CLIENT_IDENTIFIER_NOT_VALID: 0x85,
  BAD_USERNAME_OR_PASSWORD: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  SERVER_BUSY: 0x89,
  BAD_AUTHENTICATION_METHOD: 0x8c,
  KEEP_ALIVE_TIMEOUT: 0x8d,
  SESSION_TAKEN_OVER: 0x8e,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  PACKET_IDENTIFIER_IN_USE: 0x91,
  PACKET_IDENTIFIER_NOT_FOUND: 0x92,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  QUOTA_EXCEEDED: 0x97,
  PAYLOAD_FORMAT_INVALID: 0x99,
  RETAIN_NOT_SUPPORTED: 0x9a,
  QOS_NOT_SUPPORTED: 0x9b,
  SERVER_SHUTTING_DOWN: 0x8b,
  ADMINISTRATIVE_ACTION: 0x98,
  MAXIMUM_CONNECT_TIME: 0xa0,
} as const;

/** MQTT 3.1.1 CONNACK return codes (§3.2.2.3). */
export const V3_CONNACK = {
  ACCEPTED: 0x00,
  UNACCEPTABLE_PROTOCOL_VERSION: 0x01,
  IDENTIFIER_REJECTED: 0x02,
  SERVER_UNAVAILABLE: 0x03,
  BAD_USERNAME_OR_PASSWORD: 0x04,
  NOT_AUTHORIZED: 0x05,
} as const;

/** SUBACK failure return code in MQTT 3.1.1 (§3.9.3). */
export const V3_SUBACK_FAILURE = 0x80;

/**
 * The v5 PUBACK/PUBREC reason code for an Outcome.
 *
 * | outcome | code |
 * |---|---|
 * | accepted | 0x00 |
 * | rejected 401/403 | 0x87 Not authorized |
 * | rejected 400/413/415/422 | 0x99 Payload format invalid |
 * | rejected 404 | 0x90 Topic Name invalid |
 * | rejected 429 | 0x97 Quota exceeded |
 * | rejected other 4xx | 0x80 Unspecified error |
 * | unavailable | 0x80 Unspecified error |
 */
export function outcomeReasonCode(outcome: Outcome): number {
  if (outcome.kind === 'accepted') return RC.SUCCESS;
  if (outcome.kind === 'unavailable') return RC.UNSPECIFIED_ERROR;
  switch (outcome.status) {
    case 401:
    case 403:
      return RC.NOT_AUTHORIZED;
    case 400:
    case 413:
    case 415:
    case 422:
      return RC.PAYLOAD_FORMAT_INVALID;
    case 404:
      return RC.TOPIC_NAME_INVALID;
    case 429:
      return RC.QUOTA_EXCEEDED;
    default:
      return RC.UNSPECIFIED_ERROR;
  }
}

/** The CONNACK code for a refused admission, by protocol version. */
export function admissionReturnCode(status: 401 | 403 | 503, version: number): number {
  if (version === 5) return status === 401 ? RC.BAD_USERNAME_OR_PASSWORD : status === 403 ? RC.NOT_AUTHORIZED : RC.SERVER_UNAVAILABLE;
  return status === 401 ? V3_CONNACK.BAD_USERNAME_OR_PASSWORD : status === 403 ? V3_CONNACK.NOT_AUTHORIZED : V3_CONNACK.SERVER_UNAVAILABLE;
}

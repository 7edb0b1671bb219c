/**
 * The catalogue of stable error codes. Every ThinggateError, Outcome and
 * script result carries one of these; the README's error table lists the
 * same codes (test/unit/error-codes.test.ts checks both ways).
 */
export const ERROR_CODES = [
  'TG_ERR_CONFIG_INVALID',
  'TG_ERR_NOT_STARTED',
  'TG_ERR_NO_ROUTE',
  'TG_ERR_LISTEN',
  'TG_ERR_TLS_MATERIAL',
  'TG_ERR_ADMISSION_UNAVAILABLE',
  'TG_ERR_MQTT_PROTOCOL',
  'TG_ERR_MQTT_PAYLOAD_FORMAT',
  'TG_ERR_COAP_MALFORMED',
  'TG_ERR_AMQP_INVALID_MESSAGE',
  'TG_ERR_HTTP_BAD_REQUEST',
  'TG_ERR_HTTP_UNAUTHORIZED',
  'TG_ERR_HTTP_FORBIDDEN',
  'TG_ERR_ACL_DENIED',
  'TG_ERR_HTTP_NOT_FOUND',
  'TG_ERR_HTTP_METHOD',
  'TG_ERR_PAYLOAD_TOO_LARGE',
  'TG_ERR_POOL_CLOSED',
  'TG_ERR_UPSTREAM_TOO_LARGE',
  'TG_ERR_SPOOL_FULL',
  'TG_ERR_SPOOL_FAILED',
  'TG_ERR_INTERNAL',
  'TG_ERR_POOL_UNKNOWN',
  'TG_ERR_POOL_OVERLOADED',
  'TG_ERR_UPSTREAM_UNAVAILABLE',
  'TG_ERR_UPSTREAM_TIMEOUT',
  'TG_ERR_UPSTREAM_STATUS',
  'TG_ERR_UPSTREAM_REJECTED',
  'TG_ERR_MESSAGE_EXPIRED',
  'TG_ERR_SCRIPT_THREW',
  'TG_ERR_SCRIPT_TIMEOUT',
  'TG_ERR_SCRIPT_MEMORY',
  'TG_ERR_SCRIPT_INVALID_DECISION',
  'TG_ERR_SCRIPT_THROTTLED',
  'TG_ERR_SCRIPT_REJECTED',
] as const;

/** A stable thinggate error code: a misspelt one does not compile. */
export type TgErrorCode = (typeof ERROR_CODES)[number];

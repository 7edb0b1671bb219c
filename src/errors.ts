/**
 * One error base class for thinggate. Every error carries a stable `code`
 * (matched by callers and listed in the README's error table), an optional
 * cause, and, where it applies, the HTTP-style status the listeners map into
 * their own protocol (MQTT reason code, CoAP response code, AMQP condition).
 */
import type { TgErrorCode } from './error-codes.js';

export type { TgErrorCode } from './error-codes.js';

export class ThinggateError extends Error {
  readonly code: TgErrorCode;
  readonly status: number | undefined;

  constructor(code: TgErrorCode, message: string, options: { cause?: unknown; status?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ThinggateError';
    this.code = code;
    this.status = options.status;
  }
}

/** Configuration file is invalid: schema violations, bad references, unreadable file. */
export class ConfigError extends ThinggateError {
  readonly problems: readonly string[];
  constructor(message: string, problems: readonly string[] = [], cause?: unknown) {
    super('TG_ERR_CONFIG_INVALID', message, { cause });
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** True when `err` is a ThinggateError with the given code. */
export function hasCode(err: unknown, code: TgErrorCode): boolean {
  return err instanceof ThinggateError && err.code === code;
}

/** Schema and types of the `admin`, `log` and `shutdown` sections. */
export interface AdminConfig {
  readonly host: string;
  readonly port: number;
  readonly token?: string;
}

export interface LogConfig {
  readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * A security event one source repeats (same listener, kind and clause) is
   * logged once, then summarised once per this interval with the number left
   * out; metrics still count every event. 0 logs every event.
   */
  readonly securitySummaryIntervalMs: number;
}

export interface ShutdownConfig {
  /** How long SIGTERM/SIGINT waits for in-flight messages before closing anyway. */
  readonly drainTimeoutMs: number;
}

export const adminSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['port'],
  properties: {
    host: { type: 'string', minLength: 1, default: '127.0.0.1' },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    token: { type: 'string' },
  },
} as const;

export const logSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    securitySummaryIntervalMs: { type: 'integer', minimum: 0, maximum: 3600000, default: 10000 },
  },
} as const;

export const shutdownSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    drainTimeoutMs: { type: 'integer', minimum: 0, maximum: 600000, default: 15000 },
  },
} as const;

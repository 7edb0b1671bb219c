/** Schema and types of the `admin`, `log` and `shutdown` sections. */
export interface AdminConfig {
  /** False turns the admin server off while keeping the section (the embedded default enables it). */
  readonly enabled: boolean;
  /** Loopback by default: the admin server is never reachable from other hosts unless configured so. */
  readonly host: string;
  readonly port: number;
  /** Bearer token; required when `host` is not a loopback address. Never logged. */
  readonly token?: string;
  /** Most events kept for `GET /api/v1/events`. */
  readonly eventBuffer: number;
}

export interface LogConfig {
  readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /**
   * A security event one source repeats (same listener, kind and clause) is
   * logged once, then summarised once per this interval with the number left
   * out; metrics still count every event. 0 logs every event.
   */
  readonly securitySummaryIntervalMs: number;
  /** `json` (pino JSON lines) or `pretty` (one readable line per entry, for terminals). */
  readonly format: 'json' | 'pretty';
  /** Lines a second at most about messages that failed (rejected, unavailable, no route); the rest are counted. */
  readonly failuresPerSecond: number;
  /** Reasons sent to devices name back-end URLs and quote response bodies (debugging only; off by default). */
  readonly upstreamDetailsToDevices: boolean;
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
    enabled: { type: 'boolean', default: true },
    host: { type: 'string', minLength: 1, default: '127.0.0.1' },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    token: { type: 'string', minLength: 1 },
    eventBuffer: { type: 'integer', minimum: 1, maximum: 100000, default: 500 },
  },
} as const;

export const logSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
    securitySummaryIntervalMs: { type: 'integer', minimum: 0, maximum: 3600000, default: 10000 },
    format: { enum: ['json', 'pretty'], default: 'json' },
    failuresPerSecond: { type: 'integer', minimum: 1, maximum: 100000, default: 10 },
    upstreamDetailsToDevices: { type: 'boolean', default: false },
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

/** True for addresses only this host can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\./.test(h);
}

/** The admin server reachable from other hosts must ask for a token. */
export function adminCheck(admin: AdminConfig): string | undefined {
  if (admin.enabled && admin.token === undefined && !isLoopbackHost(admin.host)) {
    return `/admin/token: is required when /admin/host ('${admin.host}') is not a loopback address`;
  }
  return undefined;
}

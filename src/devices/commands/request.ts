/**
 * The body of `POST /api/v1/devices/{clientId}/commands`, checked and
 * turned into a new mailbox command. Every problem is a
 * TG_ERR_COMMAND_INVALID naming the field.
 */
import type { CommandsConfig } from '../../config/types.js';
import { ThinggateError } from '../../errors.js';
import type { NewCommand, ResponseMode } from '../../state/mailbox.js';

export interface CommandBody {
  readonly address?: unknown;
  readonly payload?: unknown;
  /** How `payload` is to be read: `json` (any JSON value, sent serialised), `text` (a string, sent as UTF-8) or `base64`. */
  readonly encoding?: unknown;
  readonly contentType?: unknown;
  readonly qos?: unknown;
  readonly ttlMs?: unknown;
  readonly response?: unknown;
  readonly timeoutMs?: unknown;
  readonly replyTo?: unknown;
}

/** A checked command: the record to queue and, for `sync`, how long to wait. */
export interface ParsedCommand {
  readonly command: NewCommand;
  readonly timeoutMs: number;
}

const DEFAULT_TYPES = { json: 'application/json', text: 'text/plain; charset=utf-8', base64: 'application/octet-stream' } as const;

function invalid(message: string, status = 400): ThinggateError {
  return new ThinggateError('TG_ERR_COMMAND_INVALID', message, { status });
}

/** Replaces `{clientId}` and `{commandId}` in an address or path template. */
export function fillTemplate(template: string, clientId: string, commandId: string): string {
  return template.replaceAll('{clientId}', clientId).replaceAll('{commandId}', commandId);
}

function payloadBytes(body: CommandBody): { bytes: Buffer; type: string } {
  const encoding = body.encoding ?? 'json';
  if (encoding !== 'json' && encoding !== 'text' && encoding !== 'base64')
    throw invalid(`encoding: must be json, text or base64 (got ${JSON.stringify(encoding)})`);
  if (body.payload === undefined) return { bytes: Buffer.alloc(0), type: DEFAULT_TYPES[encoding] };
  if (encoding === 'json') return { bytes: Buffer.from(JSON.stringify(body.payload), 'utf8'), type: DEFAULT_TYPES.json };
  if (typeof body.payload !== 'string') throw invalid(`payload: must be a string with encoding ${encoding}`);
  if (encoding === 'text') return { bytes: Buffer.from(body.payload, 'utf8'), type: DEFAULT_TYPES.text };
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(body.payload)) throw invalid('payload: is not base64');
  return { bytes: Buffer.from(body.payload, 'base64'), type: DEFAULT_TYPES.base64 };
}

function intField(v: unknown, name: string, fallback: number, max: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw invalid(`${name}: must be a positive integer`);
  if (v > max) throw invalid(`${name}: ${v} is larger than the configured maximum ${max}`);
  return v;
}

function optionalString(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw invalid(`${name}: must be a non-empty string`);
  return v;
}

/** Checks `body` against the configuration; throws TG_ERR_COMMAND_INVALID. */
export function parseCommand(body: unknown, clientId: string, id: string, now: number, config: CommandsConfig): ParsedCommand {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('the body must be a JSON object');
  const b = body as CommandBody;
  const response = (b.response ?? 'none') as ResponseMode;
  if (response !== 'none' && response !== 'sync' && response !== 'async')
    throw invalid(`response: must be none, sync or async (got ${JSON.stringify(b.response)})`);
  if (response === 'async' && config.callbackPool === undefined) throw invalid('response: async needs commands.callbackPool in the configuration');
  const qos = b.qos ?? 1;
  if (qos !== 0 && qos !== 1 && qos !== 2) throw invalid('qos: must be 0, 1 or 2');
  const { bytes, type } = payloadBytes(b);
  if (bytes.length > config.limits.maxPayloadBytes)
    throw invalid(`payload: ${bytes.length} bytes is more than commands.limits.maxPayloadBytes (${config.limits.maxPayloadBytes})`, 413);
  const ttlMs = intField(b.ttlMs, 'ttlMs', config.defaultTtlMs, config.maxTtlMs);
  const timeoutMs = intField(b.timeoutMs, 'timeoutMs', Math.min(config.defaultTimeoutMs, ttlMs), config.maxTimeoutMs);
  const address = optionalString(b.address, 'address') ?? fillTemplate(config.address, clientId, id);
  if (/[+#]/.test(address)) throw invalid('address: must not contain the wildcards + or #');
  const contentType = optionalString(b.contentType, 'contentType') ?? type;
  const replyTo = optionalString(b.replyTo, 'replyTo') ?? (response === 'none' ? undefined : fillTemplate(config.responseAddress, clientId, id));
  return {
    timeoutMs,
    command: {
      id,
      clientId,
      address,
      payload: bytes.toString('base64'),
      contentType,
      qos,
      response,
      ...(replyTo !== undefined && { replyTo }),
      size: bytes.length,
      expiresAt: now + ttlMs,
      createdAt: now,
    },
  };
}

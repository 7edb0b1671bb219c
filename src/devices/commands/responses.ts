/**
 * Recognising a device's response to a command among the messages it
 * sends. A message is a response when its address is the configured
 * response address of one of the sender's own commands
 * (`commands/{clientId}/res/{commandId}`: the MQTT 3.1.1 convention, and
 * the Response Topic MQTT 5 devices are given), or when it carries a
 * correlation id that is the id of one of the sender's commands (MQTT 5
 * Correlation Data, AMQP correlation-id). A device can only answer its own
 * commands: the client id is the sender's, never read from the message.
 */
import { accepted, type Envelope, type Outcome } from '../../envelope/index.js';
import type { CommandsConfig } from '../../config/types.js';
import type { CommandResponse } from '../../state/mailbox.js';

export interface Responder {
  respond(clientId: string, id: string, response: CommandResponse): Promise<boolean>;
}

const ID = /^[0-9A-Z]{16,40}$/;

/** The command id a response address names for `clientId`, if it is one. */
export function idFromAddress(template: string, clientId: string, address: string): string | undefined {
  const [before, after] = template.replaceAll('{clientId}', clientId).split('{commandId}') as [string, string | undefined];
  if (after === undefined || !address.startsWith(before) || !address.endsWith(after)) return undefined;
  const id = address.slice(before.length, address.length - after.length);
  return ID.test(id) ? id : undefined;
}

/** The command id a correlation id carries: as is (AMQP), or the UTF-8 of base64url bytes (MQTT 5 Correlation Data). */
export function idFromCorrelation(correlationId: string | undefined): string | undefined {
  if (correlationId === undefined) return undefined;
  if (ID.test(correlationId)) return correlationId;
  const decoded = Buffer.from(correlationId, 'base64url').toString('utf8');
  return ID.test(decoded) ? decoded : undefined;
}

function statusOf(env: Envelope): number {
  const s = Number(env.headers.status ?? env.headers['x-status'] ?? 200);
  return Number.isInteger(s) && s >= 100 && s <= 599 ? s : 200;
}

/**
 * The outcome for `env` when it answers a command of its sender; undefined
 * when it is not a response (it is routed like any message).
 */
export function commandResponse(env: Envelope, config: CommandsConfig, responder: Responder): Promise<Outcome | undefined> | undefined {
  const clientId = env.source.clientId;
  if (!clientId) return undefined;
  const byAddress = idFromAddress(config.responseAddress, clientId, env.address);
  const id = byAddress ?? idFromCorrelation(env.correlationId);
  if (id === undefined) return undefined;
  const response: CommandResponse = {
    status: statusOf(env),
    payload: env.payload.toString('base64'),
    ...(env.contentType !== undefined && { contentType: env.contentType }),
  };
  // A late answer on the response address (the command expired, or was answered already) is taken and dropped: no route would want it.
  return responder
    .respond(clientId, id, response)
    .then((ok) => (ok ? accepted(200) : byAddress !== undefined ? { kind: 'accepted', status: 200, dropped: true } : undefined));
}

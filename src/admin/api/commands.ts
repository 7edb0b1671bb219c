/**
 * The southbound command API: `POST /api/v1/devices/{clientId}/commands`
 * queues a command or notification (202 once it is on disk; for
 * `response: sync` the device's answer, or 504), `GET` lists a device's
 * commands or shows one with its states, `DELETE` cancels a queued one.
 * Nothing is answered 2xx unless it was durably queued.
 */
import type { Response } from 'express';
import type { CommandService } from '../../devices/commands/service.js';
import { commandView } from '../../devices/commands/view.js';
import { ThinggateError } from '../../errors.js';
import { sendError, type AdminRoutes } from '../routes.js';
import { BAD_REQUEST, intQuery, jsonResponse, NOT_FOUND, pathParam, queryParam, ref, UNAUTHORIZED } from './openapi-helpers.js';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 10_000;

/** A ThinggateError as a JSON error: `{ error: code, message, ...extra }` with its status. */
function sendFailure(res: Response, err: unknown): void {
  if (!(err instanceof ThinggateError) || err.status === undefined) throw err;
  const { limit, max } = err as ThinggateError & { limit?: string; max?: number };
  res.status(err.status).json({ error: err.code, message: err.message, ...(limit !== undefined && { limit, max }) });
}

const errorResponse = (description: string): Record<string, unknown> => jsonResponse(description, ref('Error'));

export function commandRoutes(service: CommandService): AdminRoutes {
  return {
    name: 'commands',
    register(router) {
      router.route('post', '/api/v1/devices/{clientId}/commands', async (req, res) => {
        const clientId = req.params.clientId as string;
        try {
          const { record, timeoutMs } = await service.submit(clientId, req.body);
          if (record.response !== 'sync') {
            res
              .status(202)
              .location(`/api/v1/devices/${encodeURIComponent(clientId)}/commands/${record.id}`)
              .json(commandView(record));
            return;
          }
          const final = await service.waitFinal(record, timeoutMs);
          if (final.state === 'responded') {
            res.status(200).json(commandView(final));
            return;
          }
          res.status(504).json({
            error: 'TG_ERR_COMMAND_TIMEOUT',
            message: `no response from '${clientId}' within ${timeoutMs} ms (state: ${final.state})`,
            command: commandView(final),
          });
        } catch (err) {
          sendFailure(res, err);
        }
      });
      router.route('get', '/api/v1/devices/{clientId}/commands', async (req, res) => {
        const list = await service.list(req.params.clientId as string, intQuery(req.query.limit, DEFAULT_LIMIT, MAX_LIMIT));
        res.json({ commands: list.map(commandView) });
      });
      router.route('get', '/api/v1/devices/{clientId}/commands/{id}', async (req, res) => {
        const r = await service.get(req.params.clientId as string, req.params.id as string);
        if (!r) return sendError(res, 404, 'TG_ERR_COMMAND_NOT_FOUND', `no command '${req.params.id as string}' for '${req.params.clientId as string}'`);
        res.json(commandView(r));
      });
      router.route('delete', '/api/v1/devices/{clientId}/commands/{id}', async (req, res) => {
        const r = await service.cancel(req.params.clientId as string, req.params.id as string);
        if (!r) return sendError(res, 404, 'TG_ERR_COMMAND_NOT_FOUND', `no command '${req.params.id as string}' for '${req.params.clientId as string}'`);
        if (r.state !== 'cancelled') {
          res.status(409).json({
            error: 'TG_ERR_COMMAND_NOT_CANCELLABLE',
            message: `command ${r.id} is ${r.state}: only a queued command can be cancelled`,
            command: commandView(r),
          });
          return;
        }
        res.json(commandView(r));
      });
    },
    openapi: {
      paths: {
        '/api/v1/devices/{clientId}/commands': {
          post: {
            summary: 'Send a command or notification to a device (queued in its mailbox until it can take it)',
            parameters: [pathParam('clientId', 'client id')],
            requestBody: { required: true, content: { 'application/json': { schema: ref('CommandRequest') } } },
            responses: {
              '200': jsonResponse('response: sync — the device answered', ref('Command')),
              '202': jsonResponse('queued durably (response none or async)', ref('Command')),
              '400': BAD_REQUEST,
              '401': UNAUTHORIZED,
              '404': errorResponse('unknown device (TG_ERR_COMMAND_DEVICE_UNKNOWN)'),
              '413': errorResponse('payload larger than commands.limits.maxPayloadBytes'),
              '429': errorResponse("the device's mailbox is full (TG_ERR_MAILBOX_FULL; limit and max in the body)"),
              '503': errorResponse('the mailbox could not be written (TG_ERR_MAILBOX_UNAVAILABLE)'),
              '504': errorResponse('response: sync — no response within timeoutMs (TG_ERR_COMMAND_TIMEOUT; the command in the body)'),
              '507': errorResponse('every mailbox together is full (TG_ERR_MAILBOX_FULL)'),
            },
          },
          get: {
            summary: "A device's commands, oldest first, with their states",
            parameters: [
              pathParam('clientId', 'client id'),
              queryParam('limit', `most commands returned (default ${DEFAULT_LIMIT})`, { type: 'integer', minimum: 0 }),
            ],
            responses: {
              '200': jsonResponse('commands', { type: 'object', required: ['commands'], properties: { commands: { type: 'array', items: ref('Command') } } }),
              '401': UNAUTHORIZED,
            },
          },
        },
        '/api/v1/devices/{clientId}/commands/{id}': {
          get: {
            summary: 'One command with the time of each state',
            parameters: [pathParam('clientId', 'client id'), pathParam('id', 'command id')],
            responses: { '200': jsonResponse('the command', ref('Command')), '401': UNAUTHORIZED, '404': NOT_FOUND },
          },
          delete: {
            summary: 'Cancel a queued command',
            parameters: [pathParam('clientId', 'client id'), pathParam('id', 'command id')],
            responses: {
              '200': jsonResponse('cancelled', ref('Command')),
              '401': UNAUTHORIZED,
              '404': NOT_FOUND,
              '409': errorResponse('no longer queued (TG_ERR_COMMAND_NOT_CANCELLABLE)'),
            },
          },
        },
      },
      schemas: {
        CommandRequest: {
          type: 'object',
          properties: {
            address: { type: 'string', description: 'topic / address; default commands.address' },
            payload: { description: 'the payload, read as `encoding` says' },
            encoding: { enum: ['json', 'text', 'base64'], default: 'json' },
            contentType: { type: 'string' },
            qos: { enum: [0, 1, 2], default: 1 },
            ttlMs: { type: 'integer', minimum: 1, description: 'default commands.defaultTtlMs' },
            response: { enum: ['none', 'sync', 'async'], default: 'none' },
            timeoutMs: { type: 'integer', minimum: 1, description: 'sync: how long to wait for the response' },
            replyTo: { type: 'string', description: 'where the device answers; default commands.responseAddress' },
          },
        },
        Command: {
          type: 'object',
          required: ['id', 'clientId', 'address', 'state', 'timestamps'],
          properties: {
            id: { type: 'string' },
            clientId: { type: 'string' },
            address: { type: 'string' },
            qos: { enum: [0, 1, 2] },
            response: { enum: ['none', 'sync', 'async'] },
            contentType: { type: 'string' },
            replyTo: { type: 'string' },
            payloadBytes: { type: 'integer' },
            state: { enum: ['queued', 'sent', 'delivered', 'responded', 'expired', 'cancelled', 'failed'] },
            reason: { type: 'string' },
            attempts: { type: 'integer' },
            expiresAt: { type: 'string', format: 'date-time' },
            timestamps: { type: 'object', additionalProperties: { type: 'string', format: 'date-time' } },
            deviceResponse: {
              type: 'object',
              properties: {
                status: { type: 'integer' },
                contentType: { type: 'string' },
                payload: { type: 'string', description: 'base64' },
                text: { type: 'string' },
                json: {},
              },
            },
          },
        },
      },
    },
  };
}

/** `GET /api/v1/devices` and `GET /api/v1/devices/{clientId}`: presence and subscriptions. */
import type { Subscriber } from '../../devices/registry.js';
import type { AdminContext } from '../context.js';
import { sendError, type AdminRoutes } from '../routes.js';
import { intQuery, jsonResponse, NOT_FOUND, pathParam, queryParam, ref, UNAUTHORIZED } from './openapi-helpers.js';

const DEFAULT_LIMIT = 1000;
const MAX_LIMIT = 100_000;

function deviceOf(ctx: AdminContext, s: Subscriber): Record<string, unknown> {
  return { clientId: s.clientId, listener: s.listener, subscriptions: ctx.devices.subscriptionsOf(s) };
}

export const deviceRoutes: AdminRoutes = {
  name: 'devices',
  register(router, ctx) {
    router.route('get', '/api/v1/devices', (req, res) => {
      const limit = intQuery(req.query.limit, DEFAULT_LIMIT, MAX_LIMIT);
      const devices: Array<Record<string, unknown>> = [];
      for (const s of ctx.devices.sessions()) {
        if (devices.length >= limit) break;
        devices.push(deviceOf(ctx, s));
      }
      res.json({ total: ctx.devices.connectedCount, devices });
    });
    router.route('get', '/api/v1/devices/{clientId}', (req, res) => {
      const s = ctx.devices.lookup(req.params.clientId as string);
      if (!s) return sendError(res, 404, 'not_found', `device '${req.params.clientId as string}' is not connected`);
      res.json(deviceOf(ctx, s));
    });
  },
  openapi: {
    paths: {
      '/api/v1/devices': {
        get: {
          summary: 'Connected devices (presence) and their subscriptions',
          parameters: [queryParam('limit', `most devices returned (default ${DEFAULT_LIMIT})`, { type: 'integer', minimum: 0 })],
          responses: {
            '200': jsonResponse('devices', {
              type: 'object',
              required: ['total', 'devices'],
              properties: { total: { type: 'integer' }, devices: { type: 'array', items: ref('Device') } },
            }),
            '401': UNAUTHORIZED,
          },
        },
      },
      '/api/v1/devices/{clientId}': {
        get: {
          summary: 'One connected device',
          parameters: [pathParam('clientId', 'client id')],
          responses: { '200': jsonResponse('the device', ref('Device')), '401': UNAUTHORIZED, '404': NOT_FOUND },
        },
      },
    },
    schemas: {
      Device: {
        type: 'object',
        required: ['clientId', 'listener', 'subscriptions'],
        properties: {
          clientId: { type: 'string' },
          listener: { type: 'string' },
          subscriptions: {
            type: 'array',
            items: { type: 'object', required: ['filter', 'qos'], properties: { filter: { type: 'string' }, qos: { enum: [0, 1, 2] } } },
          },
        },
      },
    },
  },
};

/** `GET /api/v1/listeners`: each listener's state, bound address and counters. */
import type { AdminContext } from '../context.js';
import type { ListenerStats } from '../../listeners/listener.js';
import type { AdminRoutes } from '../routes.js';
import { jsonResponse, ref, UNAUTHORIZED } from './openapi-helpers.js';

export interface ListenerSummary extends ListenerStats {
  readonly name: string;
  readonly protocol: string;
  readonly state: 'listening' | 'stopped';
  readonly address: string | null;
}

export function listenerSummaries(ctx: AdminContext): ListenerSummary[] {
  return ctx.listenerViews().map((l) => {
    const a = l.address;
    return {
      name: l.name,
      protocol: l.protocol,
      state: a ? 'listening' : 'stopped',
      address: a ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : null,
      ...l.stats(),
    };
  });
}

export const listenerRoutes: AdminRoutes = {
  name: 'listeners',
  register(router, ctx) {
    router.route('get', '/api/v1/listeners', (_req, res) => {
      res.json(listenerSummaries(ctx));
    });
  },
  openapi: {
    paths: {
      '/api/v1/listeners': {
        get: {
          summary: 'Listeners: state, bound address, connections and message counters',
          responses: { '200': jsonResponse('the listeners', { type: 'array', items: ref('Listener') }), '401': UNAUTHORIZED },
        },
      },
    },
    schemas: {
      Listener: {
        type: 'object',
        required: ['name', 'protocol', 'state', 'address', 'connections', 'messagesIn', 'messagesOut', 'protocolErrors'],
        properties: {
          name: { type: 'string' },
          protocol: { type: 'string' },
          state: { enum: ['listening', 'stopped'] },
          address: { type: ['string', 'null'], description: 'host:port bound' },
          connections: { type: 'integer' },
          messagesIn: { type: 'integer' },
          messagesOut: { type: 'integer' },
          protocolErrors: { type: 'integer' },
        },
      },
    },
  },
};

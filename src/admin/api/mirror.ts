/**
 * The decrypted mirror at run time (docs/tls.md): `GET /api/v1/mirror` lists
 * the routes that mirror and the clients switched on;
 * `POST /api/v1/mirror/clients/{clientId}` switches one client on for every
 * route mirror (unsampled, whatever the route's `clientIds`), optionally for
 * `ttlSeconds`; `DELETE` switches it off.
 */
import { sendError, type AdminRoutes } from '../routes.js';
import type { AdminContext } from '../context.js';
import { BAD_REQUEST, jsonResponse, NOT_FOUND, pathParam, ref, UNAUTHORIZED } from './openapi-helpers.js';

/** Longest switch the API accepts, in seconds (one week): troubleshooting, not a standing tap. */
const MAX_TTL_SECONDS = 604_800;

/** The routes with a mirror, and where each sends its copies. */
function mirrorRoutes(ctx: AdminContext): Array<Record<string, unknown>> {
  return ctx.configuration.routes.flatMap((r, i) => {
    const m = r.mirror;
    if (!m) return [];
    return [
      {
        route: r.name ?? `routes[${i}]`,
        ...(m.file !== undefined && { file: m.file }),
        ...(m.pool !== undefined && { pool: m.pool }),
        sample: m.sample,
        ...(m.rate !== undefined && { rate: m.rate }),
        ...(m.clientIds !== undefined && { clientIds: m.clientIds }),
      },
    ];
  });
}

export const mirrorRoutesAdmin: AdminRoutes = {
  name: 'mirror',
  register(router, ctx) {
    router.route('get', '/api/v1/mirror', (_req, res) => {
      res.json({ routes: mirrorRoutes(ctx), clients: ctx.mirror.list() });
    });
    router.route('get', '/api/v1/mirror/clients', (_req, res) => {
      res.json(ctx.mirror.list());
    });
    router.route('post', '/api/v1/mirror/clients/{clientId}', (req, res) => {
      const clientId = req.params.clientId as string;
      const { ttlSeconds } = (req.body ?? {}) as Record<string, unknown>;
      if (ttlSeconds !== undefined && (!Number.isInteger(ttlSeconds) || (ttlSeconds as number) < 1 || (ttlSeconds as number) > MAX_TTL_SECONDS)) {
        return sendError(res, 400, 'bad_request', `ttlSeconds must be an integer from 1 to ${MAX_TTL_SECONDS}`);
      }
      const routes = mirrorRoutes(ctx).map((r) => r.route as string);
      if (routes.length === 0) return sendError(res, 409, 'no_mirror', 'no route has a mirror: configure routes[].mirror first (docs/tls.md)');
      const entry = ctx.mirror.enable(clientId, ttlSeconds === undefined ? undefined : (ttlSeconds as number) * 1000);
      ctx.logger.info(
        { event: 'mirror-client', clientId, routes, ...(entry.expiresAt !== undefined && { expiresAt: entry.expiresAt }) },
        `mirror switched on for client '${clientId}'`,
      );
      res.status(201).json({ ...entry, routes });
    });
    router.route('delete', '/api/v1/mirror/clients/{clientId}', (req, res) => {
      const clientId = req.params.clientId as string;
      const entry = ctx.mirror.disable(clientId);
      if (!entry) return sendError(res, 404, 'not_found', `the mirror is not switched on for client '${clientId}'`);
      ctx.logger.info({ event: 'mirror-client', clientId }, `mirror switched off for client '${clientId}'`);
      res.json(entry);
    });
  },
  openapi: {
    paths: {
      '/api/v1/mirror': {
        get: {
          summary: 'Route mirrors and the clients switched on for them',
          responses: { '200': jsonResponse('mirrors and clients', ref('MirrorState')), '401': UNAUTHORIZED },
        },
      },
      '/api/v1/mirror/clients': {
        get: {
          summary: 'Clients switched on for every route mirror',
          responses: { '200': jsonResponse('the clients', { type: 'array', items: ref('MirroredClient') }), '401': UNAUTHORIZED },
        },
      },
      '/api/v1/mirror/clients/{clientId}': {
        post: {
          summary: "Copies one client's messages on every route mirror (unsampled) until switched off or expired",
          parameters: [pathParam('clientId', 'client id')],
          requestBody: { required: false, content: { 'application/json': { schema: ref('MirrorClientRequest') } } },
          responses: {
            '201': jsonResponse('switched on', ref('MirroredClient')),
            '400': BAD_REQUEST,
            '401': UNAUTHORIZED,
            '409': jsonResponse('no route has a mirror', ref('Error')),
          },
        },
        delete: {
          summary: 'Switches the mirror off for one client',
          parameters: [pathParam('clientId', 'client id')],
          responses: { '200': jsonResponse('switched off', ref('MirroredClient')), '401': UNAUTHORIZED, '404': NOT_FOUND },
        },
      },
    },
    schemas: {
      MirroredClient: {
        type: 'object',
        required: ['clientId', 'since'],
        properties: {
          clientId: { type: 'string' },
          since: { type: 'integer', description: 'epoch ms' },
          expiresAt: { type: 'integer', description: 'epoch ms; absent: until switched off' },
          routes: { type: 'array', items: { type: 'string' }, description: 'routes whose mirror copies it (POST answer)' },
        },
      },
      MirrorClientRequest: {
        type: 'object',
        properties: { ttlSeconds: { type: 'integer', minimum: 1, maximum: MAX_TTL_SECONDS, description: 'absent: until switched off' } },
      },
      MirrorState: {
        type: 'object',
        required: ['routes', 'clients'],
        properties: {
          routes: {
            type: 'array',
            items: {
              type: 'object',
              required: ['route', 'sample'],
              properties: {
                route: { type: 'string' },
                file: { type: 'string' },
                pool: { type: 'string' },
                sample: { oneOf: [{ type: 'number' }, { type: 'string' }] },
                rate: { type: 'number' },
                clientIds: { type: 'array', items: { type: 'string' } },
              },
            },
          },
          clients: { type: 'array', items: ref('MirroredClient') },
        },
      },
    },
  },
};

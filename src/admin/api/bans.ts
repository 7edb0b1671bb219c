/**
 * Bans (docs/guard.md): `GET /api/v1/bans` lists the bans in force,
 * `POST /api/v1/bans` adds one, `DELETE /api/v1/bans/{id}` lifts a dynamic
 * one (configured bans are lifted by editing the configuration).
 */
import { BAN_KINDS, banValueProblem, type BanKind } from '../../guard/bans.js';
import { sendError, type AdminRoutes } from '../routes.js';
import { BAD_REQUEST, jsonResponse, NOT_FOUND, pathParam, ref, UNAUTHORIZED } from './openapi-helpers.js';

/** Longest ban the API accepts, in seconds (ten years). */
const MAX_TTL_SECONDS = 315_360_000;

export const banRoutes: AdminRoutes = {
  name: 'bans',
  register(router, ctx) {
    router.route('get', '/api/v1/bans', (_req, res) => {
      res.json(ctx.bans.list());
    });
    router.route('post', '/api/v1/bans', (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const { kind, value, reason, ttlSeconds } = body;
      if (typeof kind !== 'string' || !BAN_KINDS.includes(kind as BanKind)) {
        return sendError(res, 400, 'bad_request', `kind must be one of ${BAN_KINDS.join(', ')}`);
      }
      if (typeof value !== 'string') return sendError(res, 400, 'bad_request', 'value must be a string');
      const problem = banValueProblem(kind as BanKind, value);
      if (problem) return sendError(res, 400, 'bad_request', `value: ${problem}`);
      if (reason !== undefined && (typeof reason !== 'string' || reason.length === 0))
        return sendError(res, 400, 'bad_request', 'reason must be a non-empty string');
      if (ttlSeconds !== undefined && (!Number.isInteger(ttlSeconds) || (ttlSeconds as number) < 1 || (ttlSeconds as number) > MAX_TTL_SECONDS)) {
        return sendError(res, 400, 'bad_request', `ttlSeconds must be an integer from 1 to ${MAX_TTL_SECONDS}`);
      }
      const ban = ctx.bans.add({
        kind: kind as BanKind,
        value,
        reason: (reason as string | undefined) ?? 'banned by an operator',
        ...(ttlSeconds !== undefined && { ttlMs: (ttlSeconds as number) * 1000 }),
      });
      res.status(201).json(ban);
    });
    router.route('delete', '/api/v1/bans/{id}', (req, res) => {
      const id = req.params.id as string;
      const removed = ctx.bans.remove(id);
      if (!removed) {
        const configured = ctx.bans.list().some((b) => b.id === id);
        return configured
          ? sendError(res, 409, 'configured', `ban '${id}' comes from the configuration (guard.bans); edit it there`)
          : sendError(res, 404, 'not_found', `no dynamic ban '${id}'`);
      }
      res.json(removed);
    });
  },
  openapi: {
    paths: {
      '/api/v1/bans': {
        get: {
          summary: 'Bans in force (configured and dynamic)',
          responses: { '200': jsonResponse('the bans', { type: 'array', items: ref('Ban') }), '401': UNAUTHORIZED },
        },
        post: {
          summary: 'Adds a ban; kept across restarts in guard.stateDir',
          requestBody: { required: true, content: { 'application/json': { schema: ref('BanRequest') } } },
          responses: { '201': jsonResponse('the ban added', ref('Ban')), '400': BAD_REQUEST, '401': UNAUTHORIZED },
        },
      },
      '/api/v1/bans/{id}': {
        delete: {
          summary: 'Lifts a dynamic ban',
          parameters: [pathParam('id', 'ban id')],
          responses: {
            '200': jsonResponse('the ban lifted', ref('Ban')),
            '401': UNAUTHORIZED,
            '404': NOT_FOUND,
            '409': jsonResponse('the ban comes from the configuration', ref('Error')),
          },
        },
      },
    },
    schemas: {
      Ban: {
        type: 'object',
        required: ['id', 'kind', 'value', 'reason', 'source', 'createdAt'],
        properties: {
          id: { type: 'string' },
          kind: { enum: BAN_KINDS },
          value: { type: 'string' },
          reason: { type: 'string' },
          source: { type: 'string', description: 'config, api, scoring or flapping' },
          createdAt: { type: 'integer', description: 'epoch ms' },
          expiresAt: { type: 'integer', description: 'epoch ms; absent: no expiry' },
        },
      },
      BanRequest: {
        type: 'object',
        required: ['kind', 'value'],
        properties: {
          kind: { enum: BAN_KINDS },
          value: { type: 'string', description: 'an IP address, a prefix (a.b.c.d/n), a client id or a principal' },
          ttlSeconds: { type: 'integer', minimum: 1, maximum: MAX_TTL_SECONDS, description: 'absent: no expiry' },
          reason: { type: 'string' },
        },
      },
    },
  },
};

/**
 * `GET /api/v1/events`: the recent security and failure events (a bounded
 * ring); `GET /api/v1/events/stream`: the same as they happen (SSE, resumable
 * with Last-Event-ID).
 */
import type { AdminRoutes } from '../routes.js';
import { openSse } from '../sse.js';
import { intQuery, jsonResponse, queryParam, ref, strQuery, UNAUTHORIZED } from './openapi-helpers.js';

const MAX_LIMIT = 100_000;

export const eventRoutes: AdminRoutes = {
  name: 'events',
  register(router, ctx) {
    router.route('get', '/api/v1/events', (req, res) => {
      const since = intQuery(req.query.since, 0, Number.MAX_SAFE_INTEGER);
      const category = strQuery(req.query.category);
      res.json({ events: ctx.events.recent({ since, limit: intQuery(req.query.limit, MAX_LIMIT, MAX_LIMIT), ...(category !== undefined && { category }) }) });
    });
    router.route('get', '/api/v1/events/stream', (req, res) => {
      const sse = openSse(res);
      const lastId = intQuery(req.headers['last-event-id'], 0, Number.MAX_SAFE_INTEGER);
      if (lastId > 0) for (const e of ctx.events.recent({ since: lastId })) sse.send(e.category, e, e.seq);
      sse.onClose(ctx.events.subscribe((e) => sse.send(e.category, e, e.seq)));
    });
  },
  openapi: {
    paths: {
      '/api/v1/events': {
        get: {
          summary: 'Recent security and failure events, oldest first',
          parameters: [
            queryParam('since', 'only events with a larger seq', { type: 'integer', minimum: 0 }),
            queryParam('limit', 'the newest N', { type: 'integer', minimum: 0 }),
            queryParam('category', 'security, failure or command', { enum: ['security', 'failure', 'command'] }),
          ],
          responses: {
            '200': jsonResponse('events', { type: 'object', required: ['events'], properties: { events: { type: 'array', items: ref('Event') } } }),
            '401': UNAUTHORIZED,
          },
        },
      },
      '/api/v1/events/stream': {
        get: {
          summary: 'Live events (Server-Sent Events; event name = category, id = seq; send Last-Event-ID to resume)',
          responses: { '200': { description: 'an event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, '401': UNAUTHORIZED },
        },
      },
    },
    schemas: {
      Event: {
        type: 'object',
        required: ['seq', 'at', 'category', 'kind', 'detail'],
        properties: {
          seq: { type: 'integer' },
          at: { type: 'string', format: 'date-time' },
          category: { enum: ['security', 'failure', 'command'] },
          kind: { type: 'string' },
          listener: { type: 'string' },
          clientId: { type: 'string' },
          remoteAddress: { type: 'string' },
          detail: { type: 'string' },
        },
      },
    },
  },
};

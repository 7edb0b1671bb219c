/**
 * Probes and metrics: `GET /healthz` (the process answers), `GET /readyz`
 * (listeners bound, configuration loaded, not draining, every pool a route
 * needs has a healthy endpoint; 503 with the reasons otherwise) and
 * `GET /metrics` (Prometheus text exposition).
 */
import type { AdminRoutes } from './routes.js';

const PROM_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export const healthRoutes: AdminRoutes = {
  name: 'health',
  register(router, ctx) {
    router.route('get', '/healthz', (_req, res) => {
      res.json({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) });
    });
    router.route('get', '/readyz', (_req, res) => {
      const r = ctx.readiness();
      res.status(r.ready ? 200 : 503).json({ ready: r.ready, reasons: r.reasons });
    });
    router.route('get', '/metrics', async (_req, res) => {
      const text = await ctx.metrics.text();
      res.type(PROM_CONTENT_TYPE).send(text);
    });
  },
  openapi: {
    paths: {
      '/healthz': {
        get: {
          summary: 'Liveness: the process answers',
          security: [],
          responses: {
            '200': {
              description: 'alive',
              content: {
                'application/json': {
                  schema: { type: 'object', required: ['status'], properties: { status: { const: 'ok' }, uptimeSeconds: { type: 'integer' } } },
                },
              },
            },
          },
        },
      },
      '/readyz': {
        get: {
          summary: 'Readiness: listeners bound, configuration loaded, not draining, a healthy endpoint in every pool a route needs',
          security: [],
          responses: {
            '200': { description: 'ready', content: { 'application/json': { schema: { $ref: '#/components/schemas/Readiness' } } } },
            '503': { description: 'not ready; `reasons` says why', content: { 'application/json': { schema: { $ref: '#/components/schemas/Readiness' } } } },
          },
        },
      },
      '/metrics': {
        get: {
          summary: 'Prometheus text exposition of every thinggate and process metric',
          responses: {
            '200': { description: 'metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
            '401': { $ref: '#/components/responses/Unauthorized' },
          },
        },
      },
    },
    schemas: {
      Readiness: {
        type: 'object',
        required: ['ready', 'reasons'],
        properties: { ready: { type: 'boolean' }, reasons: { type: 'array', items: { type: 'string' } } },
      },
    },
  },
};

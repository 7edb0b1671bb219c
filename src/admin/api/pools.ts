/**
 * Pools and endpoints: health, outstanding requests, ejections, latency
 * percentiles; `POST …/drain` and `…/undrain` take an endpoint out of (or
 * back into) rotation: no new messages, in-flight ones finish.
 */
import type { EndpointStats, PoolStats } from '../../balancer/types.js';
import { percentiles } from '../quantile.js';
import type { AdminContext } from '../context.js';
import { sendError, type AdminHandler, type AdminRoutes } from '../routes.js';
import { jsonResponse, NOT_FOUND, pathParam, ref, UNAUTHORIZED } from './openapi-helpers.js';

export function endpointView(e: EndpointStats): Record<string, unknown> {
  const { latency, ...rest } = e;
  return { ...rest, latencyMs: percentiles(latency.boundsMs, latency.counts) };
}

export function poolView(p: PoolStats): Record<string, unknown> {
  return { ...p, endpoints: p.endpoints.map(endpointView) };
}

/** Finds an endpoint by index or by (percent-encoded) URL. */
function endpointOf(p: PoolStats, id: string): EndpointStats | undefined {
  if (/^\d+$/.test(id)) return p.endpoints[Number(id)];
  const url = id.replace(/\/+$/, '');
  return p.endpoints.find((e) => e.url === url);
}

function drainHandler(ctx: AdminContext, drained: boolean): AdminHandler {
  return (req, res) => {
    const pool = ctx.poolStats().find((p) => p.name === req.params.pool);
    if (!pool) return sendError(res, 404, 'not_found', `no pool named '${req.params.pool as string}'`);
    const e = endpointOf(pool, req.params.endpoint as string);
    if (!e) return sendError(res, 404, 'not_found', `pool '${pool.name}' has no endpoint '${req.params.endpoint as string}'`);
    // The pool logs the change with the endpoint's in-flight count.
    ctx.setEndpointDrained(pool.name, e.url, drained);
    const now =
      ctx
        .poolStats()
        .find((p) => p.name === pool.name)
        ?.endpoints.find((x) => x.url === e.url) ?? e;
    res.json(endpointView(now));
  };
}

const drainOp = (what: string): Record<string, unknown> => ({
  summary: what,
  parameters: [pathParam('pool', 'pool name'), pathParam('endpoint', 'endpoint index (from 0) or its URL, percent-encoded')],
  responses: { '200': jsonResponse('the endpoint now', ref('Endpoint')), '401': UNAUTHORIZED, '404': NOT_FOUND },
});

export const poolRoutes: AdminRoutes = {
  name: 'pools',
  register(router, ctx) {
    router.route('get', '/api/v1/pools', (_req, res) => {
      res.json(ctx.poolStats().map(poolView));
    });
    router.route('get', '/api/v1/pools/{pool}', (req, res) => {
      const p = ctx.poolStats().find((x) => x.name === req.params.pool);
      if (!p) return sendError(res, 404, 'not_found', `no pool named '${req.params.pool as string}'`);
      res.json(poolView(p));
    });
    router.route('post', '/api/v1/pools/{pool}/endpoints/{endpoint}/drain', drainHandler(ctx, true));
    router.route('post', '/api/v1/pools/{pool}/endpoints/{endpoint}/undrain', drainHandler(ctx, false));
  },
  openapi: {
    paths: {
      '/api/v1/pools': {
        get: {
          summary: 'Pools with their endpoints',
          responses: { '200': jsonResponse('the pools', { type: 'array', items: ref('Pool') }), '401': UNAUTHORIZED },
        },
      },
      '/api/v1/pools/{pool}': {
        get: {
          summary: 'One pool',
          parameters: [pathParam('pool', 'pool name')],
          responses: { '200': jsonResponse('the pool', ref('Pool')), '401': UNAUTHORIZED, '404': NOT_FOUND },
        },
      },
      '/api/v1/pools/{pool}/endpoints/{endpoint}/drain': { post: drainOp('Drains an endpoint: no new messages; in-flight ones finish') },
      '/api/v1/pools/{pool}/endpoints/{endpoint}/undrain': { post: drainOp('Returns a drained endpoint to rotation') },
    },
    schemas: {
      Pool: {
        type: 'object',
        required: ['name', 'strategy', 'inflight', 'pending', 'requests', 'rejectedOverload', 'retries', 'panic', 'endpoints'],
        properties: {
          name: { type: 'string' },
          strategy: { type: 'string' },
          inflight: { type: 'integer' },
          pending: { type: 'integer' },
          requests: { type: 'integer' },
          rejectedOverload: { type: 'integer' },
          retries: { type: 'integer' },
          retryBudgetExhausted: { type: 'integer' },
          panic: { type: 'boolean' },
          spooled: { type: 'integer' },
          endpoints: { type: 'array', items: ref('Endpoint') },
        },
      },
      Endpoint: {
        type: 'object',
        required: ['url', 'state', 'healthy', 'ejected', 'drained', 'inflight', 'requests', 'failures', 'ejections', 'latencyMs'],
        properties: {
          url: { type: 'string' },
          state: { enum: ['healthy', 'unhealthy', 'ejected'] },
          healthy: { type: 'boolean' },
          ejected: { type: 'boolean' },
          drained: { type: 'boolean' },
          inflight: { type: 'integer', description: 'outstanding requests' },
          requests: { type: 'integer' },
          failures: { type: 'integer' },
          retries: { type: 'integer' },
          ejections: { type: 'integer' },
          ewmaMs: { type: 'number' },
          latencyMs: {
            type: 'object',
            description: 'upper bound of the latency bucket holding each percentile; null without samples',
            properties: { p50: { type: ['number', 'null'] }, p90: { type: ['number', 'null'] }, p99: { type: ['number', 'null'] } },
          },
        },
      },
    },
  },
};

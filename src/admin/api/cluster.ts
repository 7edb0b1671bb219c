/** `GET /api/v1/cluster/nodes`: the live nodes sharing state, from presence heartbeats. */
import type { AdminRoutes } from '../routes.js';
import { jsonResponse, ref, UNAUTHORIZED } from './openapi-helpers.js';

export const clusterRoutes: AdminRoutes = {
  name: 'cluster',
  register(router, ctx) {
    router.route('get', '/api/v1/cluster/nodes', async (_req, res) => {
      const nodes = await ctx.cluster.nodes();
      res.json({
        self: ctx.cluster.id(),
        backend: ctx.cluster.backend(),
        nodes: nodes.map((n) => ({ id: n.id, self: n.id === ctx.cluster.id(), lastSeen: new Date(n.lastSeen).toISOString(), info: n.info })),
      });
    });
  },
  openapi: {
    paths: {
      '/api/v1/cluster/nodes': {
        get: {
          summary: 'Live nodes sharing state (from presence heartbeats); with the embedded backend, this node alone',
          responses: {
            '200': jsonResponse('nodes', {
              type: 'object',
              required: ['self', 'backend', 'nodes'],
              properties: {
                self: { type: 'string', description: "this node's id (node.id)" },
                backend: { enum: ['embedded', 'redis'] },
                nodes: { type: 'array', items: ref('ClusterNode') },
              },
            }),
            '401': UNAUTHORIZED,
          },
        },
      },
    },
    schemas: {
      ClusterNode: {
        type: 'object',
        required: ['id', 'self', 'lastSeen', 'info'],
        properties: {
          id: { type: 'string' },
          self: { type: 'boolean' },
          lastSeen: { type: 'string', format: 'date-time', description: 'last heartbeat' },
          info: {
            type: 'object',
            additionalProperties: { type: ['string', 'number'] },
            description: 'what the node said with its heartbeat (devices, pid, admin URL)',
          },
        },
      },
    },
  },
};

/**
 * The OpenAPI 3.1 document of the admin server, composed from the
 * contributions' fragments, and the route that serves it.
 */
import { createRequire } from 'node:module';
import type { AdminRoutes } from './routes.js';

const version = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error', 'message'],
  properties: { error: { type: 'string' }, message: { type: 'string' }, problems: { type: 'array', items: { type: 'string' } } },
};

const json = (schema: unknown): Record<string, unknown> => ({ 'application/json': { schema } });

/** Builds the document from every module's fragment. */
export function openApiDocument(modules: readonly AdminRoutes[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const schemas: Record<string, unknown> = { Error: ERROR_SCHEMA };
  for (const m of [...modules, openApiRoutes(() => ({}))]) {
    for (const [p, item] of Object.entries(m.openapi.paths)) paths[p] = { ...paths[p], ...item };
    Object.assign(schemas, m.openapi.schemas);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'thinggate admin API',
      version,
      description: 'Operator API of a thinggate gateway: listeners, connections, devices, pools, routes, scripts, configuration and events. See docs/admin.md.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'admin.token; required when admin.host is not a loopback address' } },
      schemas,
      responses: {
        Unauthorized: { description: 'missing or wrong bearer token', content: json({ $ref: '#/components/schemas/Error' }) },
        NotFound: { description: 'no such object', content: json({ $ref: '#/components/schemas/Error' }) },
        BadRequest: { description: 'malformed request (the message says what)', content: json({ $ref: '#/components/schemas/Error' }) },
      },
    },
  };
}

/** `GET /api/v1/openapi.json`. */
export function openApiRoutes(document: () => Record<string, unknown>): AdminRoutes {
  return {
    name: 'openapi',
    register(router) {
      let cached: Record<string, unknown> | undefined;
      router.route('get', '/api/v1/openapi.json', (_req, res) => {
        res.json((cached ??= document()));
      });
    },
    openapi: {
      paths: {
        '/api/v1/openapi.json': {
          get: {
            summary: 'This document',
            responses: {
              '200': { description: 'OpenAPI 3.1 document', content: json({ type: 'object' }) },
              '401': { $ref: '#/components/responses/Unauthorized' },
            },
          },
        },
      },
    },
  };
}

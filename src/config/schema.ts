/**
 * The configuration's JSON Schema, composed from one file per section. It is
 * the reference for every key; `thinggate schema` prints it and the package
 * ships it as schema/thinggate.schema.json.
 */
import { listenerSchema } from './sections/listeners.js';
import { poolSchema } from './sections/pools.js';
import { routeSchema } from './sections/routes.js';
import { scriptsSchema } from './sections/scripts.js';
import { aclSchema } from './sections/security.js';
import { adminSchema, logSchema, shutdownSchema } from './sections/admin.js';
import { guardSchema } from './sections/guard.js';

export const configSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://thinggate.dev/schema/thinggate.schema.json',
  title: 'thinggate configuration',
  type: 'object',
  additionalProperties: false,
  required: ['listeners', 'pools', 'routes'],
  properties: {
    listeners: { type: 'array', items: listenerSchema },
    pools: { type: 'array', items: poolSchema },
    routes: { type: 'array', items: routeSchema },
    scripts: scriptsSchema,
    admin: adminSchema,
    log: logSchema,
    shutdown: shutdownSchema,
    acl: aclSchema,
    guard: guardSchema,
  },
} as const;

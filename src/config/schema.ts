/**
 * The configuration's JSON Schema, composed from one file per section and
 * from the catalog of registered listeners, strategies and codecs (built-ins
 * and configured plugins). It is the reference for every key; `thinggate
 * schema` prints it and the package ships it as dist/thinggate.schema.json.
 */
import { listenerSchema } from './sections/listeners.js';
import { poolSchema } from './sections/pools.js';
import { routeSchema } from './sections/routes.js';
import { scriptsSchema } from './sections/scripts.js';
import { aclSchema, authChainSchemaFor } from './sections/security.js';
import { adminSchema, logSchema, shutdownSchema } from './sections/admin.js';
import { guardSchema } from './sections/guard.js';
import { pluginsSchema } from './sections/plugins.js';
import { nodeSchema, stateSchema, workersSchema } from './sections/state.js';
import { commandsSchema } from './sections/commands.js';
import { BUILTIN_CATALOG, type ConfigCatalog } from './catalog.js';

/** The schema for a catalog: listener protocols and pool strategies are the registered names; plugin listeners add their options key. */
export function buildConfigSchema(catalog: ConfigCatalog) {
  const listenerProperties: Record<string, unknown> = {
    ...listenerSchema.properties,
    protocol: { enum: catalog.listeners.map((l) => l.name) },
    auth: authChainSchemaFor(catalog.authenticators),
  };
  for (const l of catalog.listeners) {
    if (l.schema !== undefined && !(l.name in listenerProperties)) listenerProperties[l.name] = l.schema;
  }
  const strategy = { enum: catalog.strategies.map((s) => s.name), default: poolSchema.properties.strategy.default };
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://thinggate.dev/schema/thinggate.schema.json',
    title: 'thinggate configuration',
    type: 'object',
    additionalProperties: false,
    required: ['listeners', 'pools', 'routes'],
    properties: {
      plugins: pluginsSchema,
      listeners: { type: 'array', items: { ...listenerSchema, properties: listenerProperties } },
      pools: { type: 'array', items: { ...poolSchema, properties: { ...poolSchema.properties, strategy } } },
      routes: { type: 'array', items: routeSchema },
      scripts: scriptsSchema,
      admin: adminSchema,
      log: logSchema,
      shutdown: shutdownSchema,
      acl: aclSchema,
      guard: guardSchema,
      state: stateSchema,
      node: nodeSchema,
      workers: workersSchema,
      commands: commandsSchema,
    },
  } as const;
}

/** The schema with the built-ins only (no plugins configured). */
export const configSchema = buildConfigSchema(BUILTIN_CATALOG);

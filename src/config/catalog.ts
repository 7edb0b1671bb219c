/**
 * What the configuration schema depends on beyond the built-in sections: the
 * listener protocols, balancing strategies and codecs that are registered
 * (built-ins and plugins alike), each with the JSON Schema of its options.
 * The plugin loader (plugins/) builds a catalog from its registries; without
 * one, the built-in catalog applies.
 */
import type { Ajv, ErrorObject } from 'ajv';

/** A JSON Schema fragment contributed by a registration. */
export type SchemaFragment = Readonly<Record<string, unknown>>;

export interface CatalogEntry {
  readonly name: string;
  /** The plugin that registered it (`thinggate` for built-ins). */
  readonly owner: string;
  /**
   * Listeners: schema of `listeners[].<name>`; codecs: schema of the extra keys of a
   * route's `decode` / `request.encode` object; authenticators: of one `auth` entry.
   */
  readonly schema?: SchemaFragment;
  /** Listeners only: the socket type, for port clashes and TLS support. */
  readonly transport?: 'tcp' | 'udp';
  /** Listeners only: the envelope protocol when it is not the listener's name (`mqtt-ws` produces `mqtt`). */
  readonly envelopeProtocol?: string;
}

export interface ConfigCatalog {
  readonly listeners: readonly CatalogEntry[];
  readonly strategies: readonly CatalogEntry[];
  readonly codecs: readonly CatalogEntry[];
  readonly authenticators: readonly CatalogEntry[];
  /** Problems met while loading plugins (bad path, bad options, throwing setup), reported with the schema's. */
  readonly problems?: readonly string[];
}

const builtin = (name: string, transport?: 'tcp' | 'udp'): CatalogEntry => ({ name, owner: 'thinggate', ...(transport && { transport }) });

/**
 * The built-ins, as their registrations in plugins/builtins.ts describe them
 * (test/unit/plugins/registries.test.ts checks that both agree).
 */
export const BUILTIN_CATALOG: ConfigCatalog = {
  listeners: [
    builtin('mqtt', 'tcp'),
    { ...builtin('mqtt-ws', 'tcp'), envelopeProtocol: 'mqtt' },
    builtin('coap', 'udp'),
    builtin('amqp', 'tcp'),
    builtin('http', 'tcp'),
  ],
  strategies: ['round-robin', 'weighted', 'least-outstanding', 'consistent-hash', 'p2c-ewma'].map((n) => builtin(n)),
  codecs: ['application/json', 'text/plain', 'application/octet-stream'].map((n) => builtin(n)),
  authenticators: [],
};

/** A codec reference in a route: a media type, or an object naming one (`type`) with that codec's options. */
export type CodecRef = string | (Readonly<Record<string, unknown>> & { readonly type: string });

/** The media type and options of a codec reference. */
export function codecRefParts(ref: CodecRef): { type: string; options: Readonly<Record<string, unknown>> } {
  if (typeof ref === 'string') return { type: ref, options: {} };
  const { type, ...options } = ref;
  return { type, options };
}

/** Validates a value against a contributed fragment; problems are prefixed by `at` (a JSON pointer). */
export function validateFragment(
  ajv: Ajv,
  cache: WeakMap<object, ReturnType<Ajv['compile']>>,
  schema: SchemaFragment,
  value: unknown,
  at: string,
  describe: (e: ErrorObject, at: string) => string,
): string[] {
  let validate = cache.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    cache.set(schema, validate);
  }
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => describe(e, at));
}

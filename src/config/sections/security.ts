/**
 * Schema and types of device identity: a listener's authenticator chain
 * (`listeners[].auth`), its `anonymous` and `clientId` binding rules, and
 * the top-level `acl`. docs/security.md documents every key.
 */
import type { AclAction } from '../../envelope/pipeline-contract.js';

export type { AclAction };

export interface PasswordAuthConfig {
  readonly type: 'password';
  /** Credentials file (YAML/JSON), relative to the configuration file. */
  readonly file: string;
  readonly cacheTtlMs: number;
  readonly cacheMaxEntries: number;
  readonly watch: boolean;
}

export interface X509AuthConfig {
  readonly type: 'x509';
  readonly principalFrom: 'cn' | 'dns' | 'uri' | 'email';
  readonly fingerprints: readonly string[];
  readonly groups: readonly string[];
}

export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256' | 'EdDSA';

/** A JSON Web Key Set (RFC 7517 §5) fetched from `url`, or from `path` on a configured pool. */
export interface JwksConfig {
  readonly url?: string;
  readonly pool?: string;
  readonly path: string;
  /** How long a fetched set is used before it is fetched again. */
  readonly cacheMaxAgeMs: number;
  /** A token naming a key the set does not hold refetches the set at most once per this period. */
  readonly cooldownMs: number;
  readonly timeoutMs: number;
}

export interface JwtAuthConfig {
  readonly type: 'jwt';
  /** PEM public key (RS256/ES256/EdDSA) or a file holding the HS256 secret, relative to the configuration file; exactly one of keyFile and jwks. */
  readonly keyFile?: string;
  readonly jwks?: JwksConfig;
  readonly algorithms: readonly JwtAlgorithm[];
  readonly issuer?: string;
  readonly audience?: string;
  readonly clockSkewSeconds: number;
  readonly principalClaim: string;
  readonly groupsClaim?: string;
  /** Identity attribute name → claim name. */
  readonly attributes: Readonly<Record<string, string>>;
  /** Claim holding ACL rules for this identity (docs/security.md, "Rules from authenticators"). */
  readonly aclClaim?: string;
}

export interface HttpAuthConfig {
  readonly type: 'http';
  /** The pool (pools[].name) of the auth service. */
  readonly pool: string;
  readonly path: string;
  readonly timeoutMs: number;
  /** A 5xx, a time-out or no back-end: `deny` (503, the device comes back later) or `ignore` (next step). */
  readonly onError: 'deny' | 'ignore';
  readonly cacheTtlMs: number;
  readonly cacheMaxEntries: number;
}

/** An authenticator a plugin registered (`listeners[].auth[].type: <name>`), its keys checked by the plugin's schema. */
export interface PluginAuthConfig {
  readonly type: string;
  readonly [option: string]: unknown;
}

export type BuiltinAuthConfig = PasswordAuthConfig | X509AuthConfig | JwtAuthConfig | HttpAuthConfig;
export type AuthenticatorConfig = BuiltinAuthConfig | PluginAuthConfig;

export const BUILTIN_AUTHENTICATORS = ['password', 'x509', 'jwt', 'http'] as const;

export const ACL_ACTIONS = ['publish', 'subscribe', 'receive'] as const satisfies readonly AclAction[];

/** One ACL rule: exactly one of `allow` / `deny`. */
export interface AclRuleConfig {
  readonly allow?: readonly AclAction[];
  readonly deny?: readonly AclAction[];
  /** Topic pattern with MQTT wildcards and the placeholders {clientId} {principal} {group} {attr.NAME}. */
  readonly address: string;
}

/** `acl`: the rules and what an address no rule matches gets. */
export interface AclConfig {
  /** Unset: `deny` once there are configured rules, else `allow` (the open quick start). */
  readonly default?: 'allow' | 'deny';
  readonly rules: readonly AclRuleConfig[];
}

const passwordAuthSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'file'],
  properties: {
    type: { const: 'password' },
    file: { type: 'string', minLength: 1 },
    cacheTtlMs: { type: 'integer', minimum: 0, maximum: 3600000, default: 60000 },
    cacheMaxEntries: { type: 'integer', minimum: 0, maximum: 10000000, default: 10000 },
    watch: { type: 'boolean', default: true },
  },
} as const;

const x509AuthSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  properties: {
    type: { const: 'x509' },
    principalFrom: { enum: ['cn', 'dns', 'uri', 'email'], default: 'cn' },
    fingerprints: { type: 'array', items: { type: 'string', pattern: '^[0-9A-Fa-f:]{64,95}$' }, default: [] },
    groups: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
  },
} as const;

const jwtAuthSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'algorithms'],
  properties: {
    type: { const: 'jwt' },
    keyFile: { type: 'string', minLength: 1 },
    jwks: {
      type: 'object',
      additionalProperties: false,
      properties: {
        url: { type: 'string', pattern: '^https?://' },
        pool: { type: 'string', minLength: 1 },
        path: { type: 'string', pattern: '^/', default: '/.well-known/jwks.json' },
        cacheMaxAgeMs: { type: 'integer', minimum: 0, maximum: 86400000, default: 600000 },
        cooldownMs: { type: 'integer', minimum: 0, maximum: 3600000, default: 30000 },
        timeoutMs: { type: 'integer', minimum: 1, maximum: 60000, default: 5000 },
      },
    },
    algorithms: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['HS256', 'RS256', 'ES256', 'EdDSA'] } },
    issuer: { type: 'string', minLength: 1 },
    audience: { type: 'string', minLength: 1 },
    clockSkewSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 30 },
    principalClaim: { type: 'string', minLength: 1, default: 'sub' },
    groupsClaim: { type: 'string', minLength: 1 },
    attributes: { type: 'object', additionalProperties: { type: 'string', minLength: 1 }, default: {} },
    aclClaim: { type: 'string', minLength: 1 },
  },
} as const;

const httpAuthSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'pool'],
  properties: {
    type: { const: 'http' },
    pool: { type: 'string', minLength: 1 },
    path: { type: 'string', pattern: '^/', default: '/auth' },
    timeoutMs: { type: 'integer', minimum: 1, maximum: 60000, default: 2000 },
    onError: { enum: ['deny', 'ignore'], default: 'deny' },
    cacheTtlMs: { type: 'integer', minimum: 0, maximum: 3600000, default: 30000 },
    cacheMaxEntries: { type: 'integer', minimum: 0, maximum: 10000000, default: 10000 },
  },
} as const;

const BUILTIN_AUTH_SCHEMAS: ReadonlyArray<readonly [string, Readonly<Record<string, unknown>>]> = [
  ['password', passwordAuthSchema],
  ['x509', x509AuthSchema],
  ['jwt', jwtAuthSchema],
  ['http', httpAuthSchema],
];

/** A plugin authenticator's entry schema: its own fragment, with `type` allowed beside its keys. */
function pluginAuthSchema(name: string, schema: Readonly<Record<string, unknown>> | undefined): Readonly<Record<string, unknown>> {
  if (schema === undefined) return { type: 'object', properties: { type: { const: name } } };
  const properties = schema.properties as Record<string, unknown> | undefined;
  return { ...schema, properties: { ...properties, type: { const: name } } };
}

/**
 * `listeners[].auth` for the registered authenticators (built-ins and those
 * plugins contributed): each entry is checked against its type's schema, so
 * an error names the fields of the intended authenticator.
 */
export function authChainSchemaFor(plugins: ReadonlyArray<{ readonly name: string; readonly schema?: Readonly<Record<string, unknown>> }>) {
  const all = [...BUILTIN_AUTH_SCHEMAS, ...plugins.map((p) => [p.name, pluginAuthSchema(p.name, p.schema)] as const)];
  // Selected by `type` as a chain of if/then/else, the last one unconditional.
  let selected: Readonly<Record<string, unknown>> = all[all.length - 1]![1];
  for (let k = all.length - 2; k >= 0; k--) selected = { if: { properties: { type: { const: all[k]![0] } } }, then: all[k]![1], else: selected };
  return {
    type: 'array',
    default: [],
    items: { type: 'object', required: ['type'], properties: { type: { enum: all.map(([n]) => n) } }, ...selected },
  } as const;
}

export const authChainSchema = authChainSchemaFor([]);

const actionsSchema = { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...ACL_ACTIONS] } } as const;

const aclRulesSchema = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['address'],
    properties: {
      allow: actionsSchema,
      deny: actionsSchema,
      address: { type: 'string', minLength: 1 },
    },
  },
} as const;

/** Combinations the jwt schema cannot say: one key source, a JWKS from one place, no HS256 from a key set. */
export function jwtAuthProblems(a: JwtAuthConfig, at: string, pools: ReadonlyArray<{ readonly name: string }>): string[] {
  const out: string[] = [];
  if ((a.keyFile === undefined) === (a.jwks === undefined)) out.push(`${at}: needs exactly one of 'keyFile' or 'jwks'`);
  if (a.jwks) {
    if ((a.jwks.url === undefined) === (a.jwks.pool === undefined)) out.push(`${at}/jwks: needs exactly one of 'url' or 'pool'`);
    if (a.jwks.pool !== undefined && !pools.some((p) => p.name === a.jwks!.pool)) out.push(`${at}/jwks/pool: no pool named '${a.jwks.pool}'`);
    // A key set serves public keys; accepting HS256 next to them invites algorithm confusion (RFC 8725 §2.1).
    if (a.algorithms.includes('HS256')) out.push(`${at}/algorithms: HS256 needs a keyFile (a shared secret), not a jwks`);
  }
  return out;
}

/** `acl: { default, rules }`; a bare list is the rules (the form before `default` existed). Normalized by {@link normalizeAcl}. */
export const aclSchema = {
  type: ['object', 'array'],
  default: [],
  if: { type: 'array' },
  then: aclRulesSchema,
  else: {
    type: 'object',
    additionalProperties: false,
    properties: { default: { enum: ['allow', 'deny'] }, rules: aclRulesSchema },
  },
} as const;

/** The validated `acl` value in its one shape. */
export function normalizeAcl(raw: unknown): AclConfig {
  if (Array.isArray(raw)) return { rules: raw as AclRuleConfig[] };
  const o = (raw ?? {}) as { default?: 'allow' | 'deny'; rules?: AclRuleConfig[] };
  return { ...(o.default !== undefined && { default: o.default }), rules: o.rules ?? [] };
}

/** The JSON pointer of rule `i` in the form the file used. */
export function aclRulePointer(raw: unknown, i: number): string {
  return Array.isArray(raw) ? `/acl/${i}` : `/acl/rules/${i}`;
}

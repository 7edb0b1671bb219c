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

export interface JwtAuthConfig {
  readonly type: 'jwt';
  /** PEM public key (RS256/ES256/EdDSA) or a file holding the HS256 secret, relative to the configuration file. */
  readonly keyFile: string;
  readonly algorithms: readonly JwtAlgorithm[];
  readonly issuer?: string;
  readonly audience?: string;
  readonly clockSkewSeconds: number;
  readonly principalClaim: string;
  readonly groupsClaim?: string;
  /** Identity attribute name → claim name. */
  readonly attributes: Readonly<Record<string, string>>;
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

export type AuthenticatorConfig = PasswordAuthConfig | X509AuthConfig | JwtAuthConfig | HttpAuthConfig;

export const ACL_ACTIONS = ['publish', 'subscribe', 'receive'] as const satisfies readonly AclAction[];

/** One ACL rule: exactly one of `allow` / `deny`. */
export interface AclRuleConfig {
  readonly allow?: readonly AclAction[];
  readonly deny?: readonly AclAction[];
  /** Topic pattern with MQTT wildcards and the placeholders {clientId} {principal} {group} {attr.NAME}. */
  readonly address: string;
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
  required: ['type', 'keyFile', 'algorithms'],
  properties: {
    type: { const: 'jwt' },
    keyFile: { type: 'string', minLength: 1 },
    algorithms: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['HS256', 'RS256', 'ES256', 'EdDSA'] } },
    issuer: { type: 'string', minLength: 1 },
    audience: { type: 'string', minLength: 1 },
    clockSkewSeconds: { type: 'integer', minimum: 0, maximum: 3600, default: 30 },
    principalClaim: { type: 'string', minLength: 1, default: 'sub' },
    groupsClaim: { type: 'string', minLength: 1 },
    attributes: { type: 'object', additionalProperties: { type: 'string', minLength: 1 }, default: {} },
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

export const authChainSchema = {
  type: 'array',
  default: [],
  items: {
    type: 'object',
    required: ['type'],
    properties: { type: { enum: ['password', 'x509', 'jwt', 'http'] } },
    // Selected by `type`, so an error names the fields of the intended authenticator.
    if: { properties: { type: { const: 'password' } } },
    then: passwordAuthSchema,
    else: {
      if: { properties: { type: { const: 'x509' } } },
      then: x509AuthSchema,
      else: { if: { properties: { type: { const: 'jwt' } } }, then: jwtAuthSchema, else: httpAuthSchema },
    },
  },
} as const;

const actionsSchema = { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...ACL_ACTIONS] } } as const;

export const aclSchema = {
  type: 'array',
  default: [],
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

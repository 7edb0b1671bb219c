/**
 * `jwt` authenticator (on `jose`): a JSON Web Token presented as the MQTT
 * password, the AMQP SASL PLAIN password or an HTTP `Authorization: Bearer`.
 * The signature is checked with a key from a file (PEM public key, or the
 * HS256 secret) or from a JSON Web Key Set (RFC 7517 §5) fetched from a URL
 * or through a configured pool, and `exp`, `nbf`, `iss` and `aud` per
 * RFC 7519 §4.1 with a clock-skew allowance. Claims map to principal, groups,
 * attributes and, optionally, ACL rules. Something that is not a JWT passes
 * to the next step; a JWT that fails a check is denied (401); a key set that
 * cannot be fetched denies with 503 (the device comes back later).
 */
import { readFileSync } from 'node:fs';
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, customFetch, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { ClientInfo } from '../envelope/index.js';
import { newId } from '../envelope/index.js';
import type { JwksConfig, JwtAuthConfig } from '../config/types.js';
import { NEXT, deny, type AuthResult, type Authenticator } from './authenticator.js';
import type { Dispatch } from './http-delegate.js';
import { parseIdentityRules } from './acl.js';

/** The `jwt` section without its type; `keyFile` is absolute. */
export type JwtAuthOptions = Omit<JwtAuthConfig, 'type'>;

/** Three base64url segments: header.payload.signature (RFC 7515 §7.1). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** jose's codes for a key set that could not be had (as opposed to a token that failed a check). */
const KEY_SET_UNAVAILABLE = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID', 'ERR_JOSE_GENERIC']);

export class JwtAuthenticator implements Authenticator {
  readonly type = 'jwt';
  private readonly key: KeyObject | JWTVerifyGetKey;

  /** `dispatch` reaches `jwks.pool`; without a pool it is not used. */
  constructor(
    private readonly options: JwtAuthOptions,
    dispatch?: Dispatch,
  ) {
    if (options.jwks) {
      this.key = remoteKeySet(options.jwks, dispatch);
      return;
    }
    if (options.keyFile === undefined) throw new Error('needs a keyFile or a jwks');
    const text = readFileSync(options.keyFile);
    const hmac = options.algorithms.includes('HS256');
    if (hmac && options.algorithms.length > 1) throw new Error(`${options.keyFile}: HS256 cannot share a key with public-key algorithms`);
    this.key = hmac ? createSecretKey(Buffer.from(text.toString('utf8').trim(), 'utf8')) : createPublicKey(text);
  }

  async authenticate(client: ClientInfo): Promise<AuthResult> {
    const token = client.token ?? client.password?.toString('utf8');
    if (token === undefined || !COMPACT_JWS.test(token)) return NEXT;
    let payload: JWTPayload;
    try {
      const verifyOptions = {
        algorithms: [...this.options.algorithms],
        clockTolerance: this.options.clockSkewSeconds,
        ...(this.options.issuer !== undefined && { issuer: this.options.issuer }),
        ...(this.options.audience !== undefined && { audience: this.options.audience }),
      };
      ({ payload } = typeof this.key === 'function' ? await jwtVerify(token, this.key, verifyOptions) : await jwtVerify(token, this.key, verifyOptions));
    } catch (err) {
      // jose's codes (ERR_JWT_EXPIRED, ERR_JWS_SIGNATURE_VERIFICATION_FAILED, ...) name the failed check, never the token.
      const code = (err as { code?: string }).code;
      if (this.options.jwks && (code === undefined || KEY_SET_UNAVAILABLE.has(code))) return deny(503, 'token keys unavailable');
      return deny(401, `token refused (${code ?? 'invalid'})`);
    }
    const principal = payload[this.options.principalClaim];
    if (typeof principal !== 'string' || principal.length === 0) return deny(401, `token has no '${this.options.principalClaim}' claim`);
    const groupsClaim = this.options.groupsClaim !== undefined ? payload[this.options.groupsClaim] : undefined;
    const groups = Array.isArray(groupsClaim) ? groupsClaim.filter((g): g is string => typeof g === 'string') : [];
    const attributes: Record<string, string> = {};
    for (const [name, claim] of Object.entries(this.options.attributes)) {
      const v = payload[claim];
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') attributes[name] = String(v);
    }
    const identity = Object.freeze({ principal, method: 'token' as const, attributes: Object.freeze(attributes), groups: Object.freeze(groups) });
    if (this.options.aclClaim === undefined || payload[this.options.aclClaim] === undefined) return { kind: 'allow', identity };
    const acl = parseIdentityRules(payload[this.options.aclClaim]);
    // A signed token whose rules cannot be read is refused: admitting it without them would widen what it may do.
    if (!acl) return deny(403, `token claim '${this.options.aclClaim}' is not a list of ACL rules`);
    return { kind: 'allow', identity, acl };
  }
}

/**
 * jose's remote key set: the set is cached for `cacheMaxAgeMs`; a token whose
 * `kid` the set does not hold refetches it, at most once per `cooldownMs`
 * (a flood of made-up key ids costs one fetch per period), and concurrent
 * verifications share one fetch. With a pool, the fetch goes through the
 * balancer (its retries, health checks and TLS) instead of a direct request.
 */
function remoteKeySet(jwks: JwksConfig, dispatch: Dispatch | undefined): JWTVerifyGetKey {
  const options = { cacheMaxAge: jwks.cacheMaxAgeMs, cooldownDuration: jwks.cooldownMs, timeoutDuration: jwks.timeoutMs };
  if (jwks.url !== undefined) return createRemoteJWKSet(new URL(jwks.url), options);
  const pool = jwks.pool;
  if (pool === undefined) throw new Error('jwks needs a url or a pool');
  if (!dispatch) throw new Error('no balancer to reach the key set pool');
  return createRemoteJWKSet(new URL(`http://${encodeURIComponent(pool)}.pool.invalid${jwks.path}`), {
    ...options,
    [customFetch]: async (_url, init) => {
      const r = await dispatch({
        pool,
        method: 'GET',
        path: jwks.path,
        headers: { accept: 'application/json' },
        body: Buffer.alloc(0),
        idempotencyKey: newId(),
        key: 'jwks',
        expiresAt: Date.now() + jwks.timeoutMs,
        spool: false,
        signal: init.signal,
      });
      if (r.kind !== 'response') throw Object.assign(new Error(`key set pool '${pool}' unavailable`), { code: 'ERR_JWKS_TIMEOUT' });
      return new Response(r.status === 204 || r.status === 304 ? null : new Uint8Array(r.body), { status: r.status, headers: r.headers });
    },
  });
}

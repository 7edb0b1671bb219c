/**
 * `jwt` authenticator (on `jose`): a JSON Web Token presented as the MQTT
 * password, the AMQP SASL PLAIN password or an HTTP `Authorization: Bearer`.
 * The signature is checked with a key from a file (PEM public key, or the
 * HS256 secret), and `exp`, `nbf`, `iss` and `aud` per RFC 7519 §4.1 with a
 * clock-skew allowance. Claims map to principal, groups and attributes.
 * Something that is not a JWT passes to the next step; a JWT that fails a
 * check is denied (401).
 */
import { readFileSync } from 'node:fs';
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { jwtVerify, type JWTPayload } from 'jose';
import type { ClientInfo } from '../envelope/index.js';
import type { JwtAuthConfig } from '../config/types.js';
import { NEXT, deny, type AuthResult, type Authenticator } from './authenticator.js';

/** The `jwt` section without its type; `keyFile` is absolute. */
export type JwtAuthOptions = Omit<JwtAuthConfig, 'type'>;

/** Three base64url segments: header.payload.signature (RFC 7515 §7.1). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export class JwtAuthenticator implements Authenticator {
  readonly type = 'jwt';
  private readonly key: KeyObject;

  constructor(private readonly options: JwtAuthOptions) {
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
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: [...this.options.algorithms],
        clockTolerance: this.options.clockSkewSeconds,
        ...(this.options.issuer !== undefined && { issuer: this.options.issuer }),
        ...(this.options.audience !== undefined && { audience: this.options.audience }),
      }));
    } catch (err) {
      // jose's codes (ERR_JWT_EXPIRED, ERR_JWS_SIGNATURE_VERIFICATION_FAILED, ...) name the failed check, never the token.
      return deny(401, `token refused (${(err as { code?: string }).code ?? 'invalid'})`);
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
    return {
      kind: 'allow',
      identity: Object.freeze({ principal, method: 'token', attributes: Object.freeze(attributes), groups: Object.freeze(groups) }),
    };
  }
}

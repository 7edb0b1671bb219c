/**
 * `http` authenticator: delegates the decision to an auth service through a
 * configured pool (like EMQX's HTTP authentication). It POSTs the
 * credentials and connection facts as JSON; 2xx allows (the JSON body may
 * name `principal`, `groups`, `attributes` and `acl` rules), 403 denies as not authorized,
 * another 4xx as bad credentials; a 5xx, a time-out or no back-end follows
 * `onError`: `deny` (the device is told to come back, 503) or `ignore` (next
 * step). A client that presents nothing passes to the next step unasked. Answers are cached for `cacheTtlMs`, keyed by a digest of what
 * was presented.
 */
import type { ClientInfo, Identity } from '../envelope/index.js';
import type { HttpAuthConfig } from '../config/types.js';
import type { UpstreamRequest, UpstreamResult } from '../balancer/types.js';
import { NEXT, deny, type AuthResult, type Authenticator } from './authenticator.js';
import { VerifiedCache } from './verified-cache.js';
import { newId } from '../envelope/index.js';
import { parseIdentityRules } from './acl.js';

export type Dispatch = (request: UpstreamRequest) => Promise<UpstreamResult>;

export class HttpAuthenticator implements Authenticator {
  readonly type = 'http';
  private readonly cache: VerifiedCache<AuthResult>;

  constructor(
    private readonly options: Omit<HttpAuthConfig, 'type'>,
    private readonly dispatch: Dispatch,
  ) {
    this.cache = new VerifiedCache(options.cacheMaxEntries, options.cacheTtlMs);
  }

  async authenticate(client: ClientInfo): Promise<AuthResult> {
    // Nothing presented: nothing to ask about; the chain's end decides.
    if (client.username === undefined && client.password === undefined && client.token === undefined && client.tls?.peerVerified !== true) return NEXT;
    const key = VerifiedCache.key(
      client.listener,
      client.clientId,
      client.username ?? '',
      client.password ?? '',
      client.token ?? '',
      client.tls?.peerFingerprint256 ?? '',
    );
    const cached = this.cache.get(key);
    if (cached) return cached;
    const result = await this.dispatch({
      pool: this.options.pool,
      method: 'POST',
      path: this.options.path,
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(requestBody(client))),
      idempotencyKey: newId(),
      key: client.clientId,
      expiresAt: Date.now() + this.options.timeoutMs,
      spool: false,
    });
    const r = this.decide(client, result);
    if (r !== undefined) {
      this.cache.set(key, r);
      return r;
    }
    return this.options.onError === 'ignore' ? NEXT : deny(503, 'authentication service unavailable');
  }

  /** The decision for an answer; undefined when the service failed (5xx, time-out, no back-end). */
  private decide(client: ClientInfo, result: UpstreamResult): AuthResult | undefined {
    if (result.kind !== 'response' || result.status >= 500) return undefined;
    if (result.status === 403) return deny(403, 'refused by the authentication service');
    if (result.status >= 300) return deny(401, 'bad credentials (authentication service)');
    const body = parseBody(result.body);
    const principal = typeof body.principal === 'string' && body.principal.length > 0 ? body.principal : (client.username ?? client.clientId);
    const groups = Array.isArray(body.groups) ? body.groups.filter((g): g is string => typeof g === 'string') : [];
    const attributes: Record<string, string> = {};
    if (body.attributes && typeof body.attributes === 'object') {
      for (const [k, v] of Object.entries(body.attributes as Record<string, unknown>)) if (typeof v === 'string') attributes[k] = v;
    }
    const identity: Identity = Object.freeze({ principal, method: 'delegate', attributes: Object.freeze(attributes), groups: Object.freeze(groups) });
    if (body.acl === undefined) return { kind: 'allow', identity };
    const acl = parseIdentityRules(body.acl);
    // Rules that cannot be read are refused, not dropped: dropping them would widen what the device may do.
    return acl ? { kind: 'allow', identity, acl } : deny(403, 'the authentication service sent ACL rules that are not valid');
  }
}

/** What the service gets. The password and token are sent (that is the point); they are never logged here. */
function requestBody(c: ClientInfo): Record<string, unknown> {
  return {
    protocol: c.protocol,
    listener: c.listener,
    clientId: c.clientId,
    remoteAddress: c.remoteAddress,
    ...(c.username !== undefined && { username: c.username }),
    ...(c.password !== undefined && { password: c.password.toString('utf8') }),
    ...(c.token !== undefined && { token: c.token }),
    ...(c.mechanism !== undefined && { mechanism: c.mechanism }),
    ...(c.tls?.peerVerified && { certificate: { subject: c.tls.peerSubject, fingerprint256: c.tls.peerFingerprint256 } }),
  };
}

function parseBody(body: Buffer): { principal?: unknown; groups?: unknown; attributes?: unknown; acl?: unknown } {
  if (body.length === 0) return {};
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

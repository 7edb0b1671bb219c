/**
 * The Authenticator extension point: one step of a listener's admission
 * chain. Given what a connecting device presents (ClientInfo), a step
 * allows with an identity, denies, or passes to the next step. Built-ins
 * (password, x509, jwt, http) and plugins implement this one interface and
 * pass one contract suite (test/unit/security/authenticator-contract.ts).
 */
import type { ClientInfo, Identity } from '../envelope/index.js';
import type { AclRuleConfig } from '../config/types.js';

export type AuthResult =
  /** Verified: `identity` is who the device is; `acl` are rules this authenticator attaches to it (evaluated before the configured ones). */
  | { readonly kind: 'allow'; readonly identity: Identity; readonly acl?: readonly AclRuleConfig[] }
  /** Refused: 401 bad credentials, 403 known but not allowed, 503 the verifier is unavailable. The reason never holds a secret. */
  | { readonly kind: 'deny'; readonly status: 401 | 403 | 503; readonly reason: string }
  /** Not mine (no credentials of my kind, unknown user): the next step decides. */
  | { readonly kind: 'next' };

export interface Authenticator {
  /** The configured type, for logs (`password`, `x509`, ...). */
  readonly type: string;
  /** Never rejects: failures are `deny` (or `next`, where configured). */
  authenticate(client: ClientInfo): Promise<AuthResult> | AuthResult;
  /** Releases watchers and timers; called when a configuration is replaced. */
  close?(): void;
}

export const NEXT: AuthResult = Object.freeze({ kind: 'next' });

export function deny(status: 401 | 403 | 503, reason: string): AuthResult {
  return { kind: 'deny', status, reason };
}

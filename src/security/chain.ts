/**
 * A listener's authenticator chain: the steps run in order until one allows
 * or denies; past the last step the client is denied (401) unless the
 * listener admits anonymous clients. A step that throws is an internal
 * failure: the client is told to come back (503), nothing is admitted.
 */
import type { Logger } from 'pino';
import type { ClientInfo, Identity } from '../envelope/index.js';
import type { AclRuleConfig } from '../config/types.js';
import type { AuthResult, Authenticator } from './authenticator.js';

export type ChainResult =
  /** `acl`: rules the allowing step attached to the identity (evaluated before the configured ones). */
  | { readonly ok: true; readonly identity?: Identity; readonly acl?: readonly AclRuleConfig[] }
  | { readonly ok: false; readonly status: 401 | 403 | 503; readonly reason: string; readonly by: string };

export class AuthChain {
  constructor(
    readonly steps: readonly Authenticator[],
    readonly anonymous: boolean,
    private readonly logger: Logger,
  ) {}

  async authenticate(client: ClientInfo): Promise<ChainResult> {
    for (const step of this.steps) {
      let r: AuthResult;
      try {
        r = await step.authenticate(client);
      } catch (err) {
        this.logger.error({ err, authenticator: step.type, clientId: client.clientId }, 'authenticator failed unexpectedly');
        return { ok: false, status: 503, reason: 'authentication unavailable', by: step.type };
      }
      if (r.kind === 'allow') return r.acl && r.acl.length > 0 ? { ok: true, identity: r.identity, acl: r.acl } : { ok: true, identity: r.identity };
      if (r.kind === 'deny') return { ok: false, status: r.status, reason: r.reason, by: step.type };
    }
    if (this.anonymous) return { ok: true };
    const presented = client.username !== undefined || client.password !== undefined || client.tls?.peerFingerprint256 !== undefined;
    return { ok: false, status: 401, reason: presented ? 'bad user name or password' : 'authentication required', by: 'chain' };
  }

  close(): void {
    for (const s of this.steps) s.close?.();
  }
}

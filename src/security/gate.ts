/**
 * The security state of one configuration: each listener's authenticator
 * chain and client-id binding, and the ACL. Built with the rest of a
 * configuration and swapped in whole on reload; the pipeline asks it at
 * admission and for every address a device uses.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { AclAction, ClientInfo, Identity, Source } from '../envelope/index.js';
import type { AuthenticatorConfig, GatewayConfig } from '../config/types.js';
import { ThinggateError } from '../errors.js';
import { Acl } from './acl.js';
import type { Authenticator } from './authenticator.js';
import { compileBinding, type ClientIdBinding } from './binding.js';
import { AuthChain, type ChainResult } from './chain.js';
import { JwtAuthenticator } from './jwt.js';
import { HttpAuthenticator, type Dispatch } from './http-delegate.js';
import { PasswordAuthenticator } from './password.js';
import { X509Authenticator } from './x509.js';

/** What the gate reports: the guard's SecurityEvent shape, without importing the guard. */
export interface SecurityReport {
  readonly kind: 'acl-denied';
  readonly listener: string;
  readonly remoteAddress?: string;
  readonly clientId?: string;
  readonly detail: string;
}

export interface SecurityDeps {
  readonly logger: Logger;
  /** The balancer's dispatch, for the `http` authenticator's auth service. */
  readonly dispatch?: Dispatch;
  readonly report: (event: SecurityReport) => void;
}

/** Per connection (its frozen Source): decisions by action and address. Bounded: a device walking many addresses starts over. */
const MAX_CACHED_DECISIONS = 512;

type AuthenticatorFactory = (config: AuthenticatorConfig, baseDir: string, logger: Logger, deps: SecurityDeps) => Authenticator;

/** Built-in authenticators by `type`; plugins add theirs with {@link registerAuthenticator}. */
const FACTORIES = new Map<string, AuthenticatorFactory>([
  ['password', (c, baseDir, logger) => (c.type === 'password' ? new PasswordAuthenticator({ ...c, file: resolve(baseDir, c.file) }, logger) : wrongType(c))],
  ['x509', (c) => (c.type === 'x509' ? new X509Authenticator(c) : wrongType(c))],
  ['jwt', (c, baseDir) => (c.type === 'jwt' ? new JwtAuthenticator({ ...c, keyFile: resolve(baseDir, c.keyFile) }) : wrongType(c))],
  [
    'http',
    (c, _b, _l, deps) => {
      if (c.type !== 'http') return wrongType(c);
      if (!deps.dispatch) throw new Error('no balancer to reach the auth service');
      return new HttpAuthenticator(c, deps.dispatch);
    },
  ],
]);

function wrongType(c: AuthenticatorConfig): never {
  throw new Error(`authenticator factory called with type '${c.type}'`);
}

export function registerAuthenticator(type: string, factory: AuthenticatorFactory): void {
  FACTORIES.set(type, factory);
}

export class SecurityGate {
  private readonly chains = new Map<string, AuthChain>();
  private readonly bindings = new Map<string, ClientIdBinding>();
  private readonly acl: Acl;
  private readonly decisions = new WeakMap<Source, Map<string, boolean>>();

  /** Throws TG_ERR_CONFIG_INVALID naming the listener and step when an authenticator cannot be built (e.g. a missing credentials file). */
  constructor(
    config: GatewayConfig,
    private readonly deps: SecurityDeps,
  ) {
    this.acl = new Acl(config.acl);
    try {
      for (const l of config.listeners) {
        const steps = l.auth.map((a, i) => {
          const factory = FACTORIES.get(a.type);
          if (!factory) throw new ThinggateError('TG_ERR_CONFIG_INVALID', `/listeners/${l.name}/auth/${i}: unknown authenticator type '${a.type}'`);
          try {
            return factory(a, config.baseDir, deps.logger.child({ listener: l.name, authenticator: a.type }), deps);
          } catch (err) {
            if (err instanceof ThinggateError) throw err;
            throw new ThinggateError('TG_ERR_CONFIG_INVALID', `listener '${l.name}': auth[${i}] (${a.type}): ${(err as Error).message}`, { cause: err });
          }
        });
        const chain = new AuthChain(steps, l.anonymous ?? steps.length === 0, deps.logger);
        this.chains.set(l.name, chain);
        if (l.clientId !== undefined) this.bindings.set(l.name, compileBinding(l.clientId));
        if (chain.anonymous && !isLoopback(l.host) && l.protocol !== 'coap') {
          deps.logger.warn(
            { listener: l.name, host: l.host },
            'listener on a non-loopback address admits anonymous clients (configure listeners[].auth, docs/security.md)',
          );
        }
      }
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** The listener's chain. Listeners report refusals (`auth-failure`) with their protocol's reason code. */
  authenticate(client: ClientInfo): Promise<ChainResult> {
    const chain = this.chains.get(client.listener);
    return chain ? chain.authenticate(client) : Promise.resolve({ ok: true });
  }

  /** Whether the client id satisfies the listener's binding rule (always, without one). */
  clientIdAllowed(listener: string, clientId: string, identity: Identity | undefined): boolean {
    const binding = this.bindings.get(listener);
    return binding === undefined || binding(clientId, identity);
  }

  /** True when the ACL has rules (otherwise every address is allowed and nothing is cached). */
  get enforcing(): boolean {
    return !this.acl.empty;
  }

  /** The ACL's decision for the connection behind `source`, cached per connection and address; every denial is an `acl-denied` event. */
  authorize(listener: string, source: Source, action: AclAction, address: string): boolean {
    if (this.acl.empty) return true;
    const key = `${action}\u0000${address}`;
    let cache = this.decisions.get(source);
    let allowed = cache?.get(key);
    let rule = 'cached';
    if (allowed === undefined) {
      const d = this.acl.decide(source, action, address);
      allowed = d.allowed;
      rule = d.rule;
      if (!cache || cache.size >= MAX_CACHED_DECISIONS) this.decisions.set(source, (cache = new Map()));
      cache.set(key, allowed);
    }
    if (!allowed) {
      this.deps.report({
        kind: 'acl-denied',
        listener,
        remoteAddress: source.remoteAddress,
        clientId: source.clientId,
        detail: `${action} '${address}' denied (${rule})`,
      });
    }
    return allowed;
  }

  close(): void {
    for (const c of this.chains.values()) c.close();
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

/**
 * The security state of one configuration: each listener's authenticator
 * chain and client-id binding, and the ACL. Built with the rest of a
 * configuration and swapped in whole on reload; the pipeline asks it at
 * admission and for every address a device uses.
 *
 * The ACL of a connection is, in order: the rules its authenticator attached
 * to its identity, then the configured `acl.rules`, then `acl.default`.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { AclAction, ClientInfo, Identity, Source } from '../envelope/index.js';
import type { AclRuleConfig, AuthenticatorConfig, GatewayConfig, HttpAuthConfig, JwtAuthConfig, PasswordAuthConfig, X509AuthConfig } from '../config/types.js';
import { ThinggateError } from '../errors.js';
import { Acl } from './acl.js';
import type { Authenticator } from './authenticator.js';
import { compileBinding, type ClientIdBinding } from './binding.js';
import { AuthChain, type ChainResult } from './chain.js';
import { JwtAuthenticator } from './jwt.js';
import { HttpAuthenticator, type Dispatch } from './http-delegate.js';
import { PasswordAuthenticator } from './password.js';
import { attachRules, rulesOf } from './identity-rules.js';
import { X509Authenticator } from './x509.js';

/** What the gate reports: the guard's SecurityEvent shape, without importing the guard. */
export interface SecurityReport {
  readonly kind: 'acl-denied';
  readonly listener: string;
  readonly remoteAddress?: string;
  readonly clientId?: string;
  readonly principal?: string;
  readonly certFingerprint?: string;
  readonly detail: string;
}

/** What a plugin authenticator's factory gets besides its options (src/plugins/api.ts). */
export interface AuthenticatorContext {
  readonly baseDir: string;
  readonly logger: Logger;
  /** The balancer's dispatch, to reach a configured pool. */
  readonly dispatch?: Dispatch;
}

/** A registered authenticator type (the plugin registry's entries fit). */
export interface AuthenticatorFactoryEntry {
  create(options: Readonly<Record<string, unknown>>, context: AuthenticatorContext): Authenticator;
}

export interface SecurityDeps {
  readonly logger: Logger;
  /** The balancer's dispatch, for the `http` authenticator's auth service and `jwt` key sets on a pool. */
  readonly dispatch?: Dispatch;
  readonly report: (event: SecurityReport) => void;
  /** Authenticator types plugins registered, by name (`listeners[].auth[].type`). */
  readonly authenticators?: { get(type: string): AuthenticatorFactoryEntry | undefined };
}

/** Per connection (its frozen Source): decisions by action and address. Bounded: a device walking many addresses starts over. */
const MAX_CACHED_DECISIONS = 512;

type BuiltinFactory = (config: AuthenticatorConfig, baseDir: string, logger: Logger, deps: SecurityDeps) => Authenticator;

/** The built-in authenticators by `type`; the schema has already checked each entry against its type. */
const BUILTINS = new Map<string, BuiltinFactory>([
  [
    'password',
    (c, baseDir, logger) => new PasswordAuthenticator({ ...(c as PasswordAuthConfig), file: resolve(baseDir, (c as PasswordAuthConfig).file) }, logger),
  ],
  ['x509', (c) => new X509Authenticator(c as X509AuthConfig)],
  [
    'jwt',
    (c, baseDir, _l, deps) => {
      const j = c as JwtAuthConfig;
      return new JwtAuthenticator({ ...j, ...(j.keyFile !== undefined && { keyFile: resolve(baseDir, j.keyFile) }) }, deps.dispatch);
    },
  ],
  [
    'http',
    (c, _b, _l, deps) => {
      if (!deps.dispatch) throw new Error('no balancer to reach the auth service');
      return new HttpAuthenticator(c as HttpAuthConfig, deps.dispatch);
    },
  ],
]);

/** Builds one chain step: a built-in, or a type a plugin registered. */
function buildStep(c: AuthenticatorConfig, baseDir: string, logger: Logger, deps: SecurityDeps): Authenticator | undefined {
  const builtin = BUILTINS.get(c.type);
  if (builtin) return builtin(c, baseDir, logger, deps);
  const entry = deps.authenticators?.get(c.type);
  if (!entry) return undefined;
  const { type: _type, ...options } = c as Record<string, unknown>;
  const step = entry.create(options, { baseDir, logger, ...(deps.dispatch && { dispatch: deps.dispatch }) });
  if (typeof step?.authenticate !== 'function') throw new Error('the plugin returned no authenticate() function');
  return step;
}

export class SecurityGate {
  private readonly chains = new Map<string, AuthChain>();
  private readonly bindings = new Map<string, ClientIdBinding>();
  private readonly acl: Acl;
  private readonly defaultAllow: boolean;
  private readonly anyAuth: boolean;
  private readonly decisions = new WeakMap<Source, Map<string, boolean>>();
  /** Compiled identity rules, per rule list an authenticator attached. */
  private readonly identityAcls = new WeakMap<readonly AclRuleConfig[], Acl>();

  /** Throws TG_ERR_CONFIG_INVALID naming the listener and step when an authenticator cannot be built (e.g. a missing credentials file). */
  constructor(
    config: GatewayConfig,
    private readonly deps: SecurityDeps,
  ) {
    this.acl = new Acl(config.acl.rules);
    this.defaultAllow = (config.acl.default ?? (config.acl.rules.length > 0 ? 'deny' : 'allow')) === 'allow';
    this.anyAuth = config.listeners.some((l) => l.auth.length > 0);
    try {
      for (const l of config.listeners) {
        const steps = l.auth.map((a, i) => {
          let step: Authenticator | undefined;
          try {
            step = buildStep(a, config.baseDir, deps.logger.child({ listener: l.name, authenticator: a.type }), deps);
          } catch (err) {
            if (err instanceof ThinggateError) throw err;
            throw new ThinggateError('TG_ERR_CONFIG_INVALID', `listener '${l.name}': auth[${i}] (${a.type}): ${(err as Error).message}`, { cause: err });
          }
          if (!step) throw new ThinggateError('TG_ERR_CONFIG_INVALID', `listener '${l.name}': auth[${i}]: unknown authenticator type '${a.type}'`);
          return step;
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
  async authenticate(client: ClientInfo): Promise<ChainResult> {
    const chain = this.chains.get(client.listener);
    if (!chain) return { ok: true };
    const r = await chain.authenticate(client);
    if (r.ok && r.identity && r.acl) attachRules(r.identity, r.acl);
    return r;
  }

  /** Whether the client id satisfies the listener's binding rule (always, without one). */
  clientIdAllowed(listener: string, clientId: string, identity: Identity | undefined): boolean {
    const binding = this.bindings.get(listener);
    return binding === undefined || binding(clientId, identity);
  }

  /**
   * False when every address is allowed to everyone: no configured rules, an
   * `allow` default and no authenticator that could attach rules to an
   * identity; then nothing is looked up or cached per message.
   */
  get enforcing(): boolean {
    return !(this.acl.empty && this.defaultAllow && !this.anyAuth);
  }

  /** The ACL's decision for the connection behind `source`, cached per connection and address; every denial is an `acl-denied` event. */
  authorize(listener: string, source: Source, action: AclAction, address: string): boolean {
    if (!this.enforcing) return true;
    const key = `${action}\u0000${address}`;
    let cache = this.decisions.get(source);
    let allowed = cache?.get(key);
    let rule = 'cached';
    if (allowed === undefined) {
      const d = this.decide(source, action, address);
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
        // Scored by principal and certificate as well (guard/scoring.ts).
        ...(source.identity && { principal: source.identity.principal }),
        ...(source.tls?.peer?.fingerprint256 && { certFingerprint: source.tls.peer.fingerprint256 }),
        detail: `${action} '${address}' denied (${rule})`,
      });
    }
    return allowed;
  }

  /** The identity's own rules, then the configured ones, then the default. */
  private decide(source: Source, action: AclAction, address: string): { readonly allowed: boolean; readonly rule: string } {
    const own = rulesOf(source.identity);
    if (own) {
      let acl = this.identityAcls.get(own);
      if (!acl) this.identityAcls.set(own, (acl = new Acl(own)));
      const d = acl.decide(source, action, address);
      if (d) return { allowed: d.allowed, rule: `identity: ${d.rule}` };
    }
    return this.acl.decide(source, action, address) ?? { allowed: this.defaultAllow, rule: this.defaultAllow ? 'default allow' : 'default deny' };
  }

  close(): void {
    for (const c of this.chains.values()) c.close();
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

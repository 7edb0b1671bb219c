/**
 * ACL rules an authenticator attached to an identity (a credentials-file
 * entry, a token claim, an auth service's answer). They travel with the
 * identity object itself, held here rather than on it so that scripts,
 * logs and back-end headers never see them; an `onConnect` script that
 * amends the identity keeps them (mergeIdentity).
 */
import type { Identity } from '../envelope/index.js';
import type { AclRuleConfig } from '../config/types.js';

const RULES = new WeakMap<Identity, readonly AclRuleConfig[]>();

/** Records `rules` for `identity` (a frozen object, one per admission). */
export function attachRules(identity: Identity, rules: readonly AclRuleConfig[]): void {
  if (rules.length > 0) RULES.set(identity, rules);
}

/** The rules an authenticator attached to `identity`, if any. */
export function rulesOf(identity: Identity | undefined): readonly AclRuleConfig[] | undefined {
  return identity ? RULES.get(identity) : undefined;
}

/** An authenticated identity as an `onConnect` script amended it: its principal and attributes win; method, groups and attached rules stay. */
export function mergeIdentity(verified: Identity, script: Identity): Identity {
  const merged: Identity = Object.freeze({
    principal: script.principal,
    method: verified.method,
    attributes: Object.freeze({ ...verified.attributes, ...script.attributes }),
    ...(verified.groups !== undefined && { groups: verified.groups }),
  });
  const rules = RULES.get(verified);
  if (rules) RULES.set(merged, rules);
  return merged;
}

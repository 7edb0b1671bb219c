/**
 * Authorization: ordered rules (first match wins) of allow/deny × actions ×
 * an address pattern with MQTT wildcards and placeholders filled from the
 * connection — {clientId}, {principal}, {group} (one pattern per group),
 * {attr.NAME}. An address no rule matches is left to the caller (the gate
 * applies the identity's rules, the configured ones, then `acl.default`).
 *
 * A placeholder whose value is missing, or holds '/', '+' or '#', makes its
 * rule not apply: a principal named '#' must not widen a pattern.
 *
 * Subscriptions are filters: an allow rule applies when its pattern covers
 * every topic the filter can match; a deny rule when the two can match a
 * common topic, so `deny subscribe secret/#` also refuses a subscription to `#`.
 */
import type { Identity } from '../envelope/index.js';
import type { AclAction, AclRuleConfig } from '../config/types.js';
import { filterProblem } from '../envelope/address-pattern.js';

export interface AclSubject {
  readonly clientId: string;
  readonly identity?: Identity;
}

interface CompiledRule {
  readonly allow: boolean;
  readonly actions: ReadonlySet<AclAction>;
  readonly levels: readonly string[];
  readonly placeholders: boolean;
  readonly source: string;
}

const PLACEHOLDER = /\{(clientId|principal|group|attr\.[A-Za-z0-9_.-]+)\}/g;

/** Why an ACL address template is invalid, or undefined. */
export function aclAddressProblem(address: string): string | undefined {
  for (const m of address.matchAll(/\{([^}]*)\}/g)) {
    if (!/^(clientId|principal|group|attr\.[A-Za-z0-9_.-]+)$/.test(m[1]!))
      return `unknown placeholder {${m[1]}} (expected {clientId}, {principal}, {group} or {attr.NAME})`;
  }
  return undefined;
}

/** What is wrong with one rule, as a JSON-pointer suffix and text (`: needs ...`, `/address: ...`), or undefined. */
export function aclRuleProblem(r: AclRuleConfig): string | undefined {
  if ((r.allow === undefined) === (r.deny === undefined)) return ": needs exactly one of 'allow' or 'deny'";
  const p = aclAddressProblem(r.address) ?? filterProblem(r.address.replace(/\{[^}]*\}/g, 'x'));
  return p ? `/address: ${p}` : undefined;
}

/** At most this many rules from one authenticator per identity: they are tried on every new address. */
export const MAX_IDENTITY_RULES = 64;

/**
 * Rules an authenticator read from outside the configuration (a credentials
 * file entry, a token claim, an auth service's answer), checked like the
 * configured ones. Undefined when anything is malformed: the caller refuses
 * the client rather than admit it with fewer restrictions than intended.
 */
export function parseIdentityRules(value: unknown): AclRuleConfig[] | undefined {
  if (!Array.isArray(value) || value.length > MAX_IDENTITY_RULES) return undefined;
  const out: AclRuleConfig[] = [];
  for (const raw of value) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
    const { allow, deny, address, ...rest } = raw as Record<string, unknown>;
    if (Object.keys(rest).length > 0 || typeof address !== 'string' || address.length === 0) return undefined;
    const actions = (v: unknown) => Array.isArray(v) && v.length > 0 && v.every((a) => a === 'publish' || a === 'subscribe' || a === 'receive');
    if ((allow !== undefined && !actions(allow)) || (deny !== undefined && !actions(deny))) return undefined;
    const rule = Object.freeze({
      ...(allow !== undefined && { allow: Object.freeze([...(allow as AclAction[])]) }),
      ...(deny !== undefined && { deny: Object.freeze([...(deny as AclAction[])]) }),
      address,
    });
    if (aclRuleProblem(rule) !== undefined) return undefined;
    out.push(rule);
  }
  return Object.freeze(out) as AclRuleConfig[];
}

export class Acl {
  private readonly rules: readonly CompiledRule[];

  constructor(rules: readonly AclRuleConfig[]) {
    this.rules = rules.map((r) => ({
      allow: r.allow !== undefined,
      actions: new Set(r.allow ?? r.deny ?? []),
      levels: r.address.split('/'),
      placeholders: r.address.includes('{'),
      source: `${r.allow ? 'allow' : 'deny'} ${(r.allow ?? r.deny ?? []).join(',')} ${r.address}`,
    }));
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** The first rule matching `action` on `address` decides (the text names it, for logs); undefined when none matches. */
  decide(subject: AclSubject, action: AclAction, address: string): { readonly allowed: boolean; readonly rule: string } | undefined {
    if (this.rules.length === 0) return undefined;
    const levels = address.split('/');
    const isFilter = action !== 'publish';
    for (const rule of this.rules) {
      if (!rule.actions.has(action)) continue;
      for (const pattern of rule.placeholders ? expand(rule.levels, subject) : [rule.levels]) {
        const applies = !isFilter ? covers(pattern, levels) : rule.allow ? covers(pattern, levels) : overlaps(pattern, levels);
        if (applies) return { allowed: rule.allow, rule: rule.source };
      }
    }
    return undefined;
  }
}

/** The rule's levels with placeholders filled in; one result per group for {group}; none when a value is missing or unsafe. */
function expand(levels: readonly string[], subject: AclSubject): string[][] {
  const groups = levels.some((l) => l.includes('{group}')) ? (subject.identity?.groups ?? []) : [undefined];
  const out: string[][] = [];
  next: for (const group of groups) {
    const filled: string[] = [];
    for (const level of levels) {
      if (!level.includes('{')) {
        filled.push(level);
        continue;
      }
      let ok = true;
      const text = level.replace(PLACEHOLDER, (_m, name: string) => {
        const v = placeholderValue(name, subject, group);
        if (v === undefined || v.length === 0 || /[/+#]/.test(v)) ok = false;
        return v ?? '';
      });
      if (!ok) continue next;
      filled.push(text);
    }
    out.push(filled);
  }
  return out;
}

function placeholderValue(name: string, subject: AclSubject, group: string | undefined): string | undefined {
  if (name === 'clientId') return subject.clientId;
  if (name === 'principal') return subject.identity?.principal;
  if (name === 'group') return group;
  const attrs = subject.identity?.attributes;
  const key = name.slice(5);
  return attrs && Object.hasOwn(attrs, key) ? attrs[key] : undefined;
}

/** True when every topic `filter` matches is matched by `pattern` (a topic name is a filter without wildcards). */
export function covers(pattern: readonly string[], filter: readonly string[]): boolean {
  // [MQTT-4.7.2-1]: a leading wildcard does not reach '$' topics.
  if ((pattern[0] === '+' || pattern[0] === '#') && filter[0]?.startsWith('$')) return false;
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    if (p === '#') return true;
    const f = filter[i];
    if (f === undefined) return false;
    if (f === '#') return false;
    if (p === '+') continue;
    if (f === '+' || f !== p) return false;
  }
  return pattern.length === filter.length;
}

/** True when some topic matches both `pattern` and `filter`. */
export function overlaps(pattern: readonly string[], filter: readonly string[]): boolean {
  for (let i = 0; ; i++) {
    const p = pattern[i];
    const f = filter[i];
    if (p === '#' || f === '#') return true;
    if (p === undefined || f === undefined) return p === f;
    if (p !== '+' && f !== '+' && p !== f) return false;
  }
}

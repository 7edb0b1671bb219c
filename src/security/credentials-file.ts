/**
 * The password authenticator's credentials file (YAML or JSON):
 *
 * ```yaml
 * users:
 *   alice:
 *     password: "scrypt$131072$8$1$SALT$HASH"   # written by `thinggate passwd`
 *     groups: [sensors]
 *     attributes: { tenant: acme }
 *     acl:                                        # this user's own rules, before the configured ones
 *       - { allow: [publish], address: "alice/#" }
 * ```
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parseScryptHash, type ScryptHash } from './scrypt.js';
import { MAX_IDENTITY_RULES, parseIdentityRules } from './acl.js';
import type { AclRuleConfig } from '../config/types.js';

export interface UserEntry {
  readonly hash: ScryptHash;
  readonly groups: readonly string[];
  readonly attributes: Readonly<Record<string, string>>;
  /** ACL rules of this user, tried before the configured ones. */
  readonly acl?: readonly AclRuleConfig[];
}

/** Reads and checks the file; throws an Error naming the file and the entry at fault. */
export function readCredentials(file: string): Map<string, UserEntry> {
  const doc = parseCredentialsText(readFileSync(file, 'utf8'), file);
  const users = new Map<string, UserEntry>();
  for (const [name, raw] of Object.entries(doc.users ?? {})) {
    const at = `${file}: users.${name}`;
    if (!isObject(raw)) throw new Error(`${at}: expected an object with 'password'`);
    const hash = typeof raw.password === 'string' ? parseScryptHash(raw.password) : undefined;
    if (!hash) throw new Error(`${at}.password: expected a hash 'scrypt$N$r$p$SALT$HASH' (write one with 'thinggate passwd')`);
    const groups = raw.groups ?? [];
    if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string')) throw new Error(`${at}.groups: expected a list of strings`);
    const attributes = raw.attributes ?? {};
    if (!isObject(attributes) || !Object.values(attributes).every((v) => typeof v === 'string')) throw new Error(`${at}.attributes: expected a map of strings`);
    const acl = raw.acl === undefined ? undefined : parseIdentityRules(raw.acl);
    if (raw.acl !== undefined && !acl)
      throw new Error(`${at}.acl: expected at most ${MAX_IDENTITY_RULES} rules { allow|deny: [publish|subscribe|receive], address }`);
    users.set(
      name,
      Object.freeze({
        hash,
        groups: Object.freeze([...groups] as string[]),
        attributes: Object.freeze({ ...(attributes as Record<string, string>) }),
        ...(acl && acl.length > 0 && { acl }),
      }),
    );
  }
  return users;
}

export interface CredentialsDocument {
  users?: Record<string, unknown>;
}

export function parseCredentialsText(text: string, file: string): CredentialsDocument {
  let doc: unknown;
  try {
    doc = text.trim().length === 0 ? {} : parseYaml(text);
  } catch (err) {
    throw new Error(`${file}: not YAML or JSON: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (!isObject(doc)) throw new Error(`${file}: expected a map with 'users'`);
  if (doc.users !== undefined && doc.users !== null && !isObject(doc.users)) throw new Error(`${file}: users: expected a map of user names`);
  return doc as CredentialsDocument;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

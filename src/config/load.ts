/**
 * Loading the configuration: read YAML or JSON, interpolate the environment,
 * validate against the schema (all errors at once), check references between
 * sections, apply defaults and freeze. Every problem names the file, the JSON
 * path and what was expected.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve, extname } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { aclRuleProblem } from '../security/acl.js';
import { bindingProblem } from '../security/binding.js';
import addFormatsModule from 'ajv-formats';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { buildConfigSchema } from './schema.js';
import { BUILTIN_CATALOG, codecRefParts, validateFragment, type CodecRef, type ConfigCatalog } from './catalog.js';
import { interpolate, escapePointer, type InterpolationProblem } from './interpolate.js';
import { EMBEDDED_DEFAULT } from './defaults.js';
import type { GatewayConfig, ProxyProtocolConfig } from './types.js';
import { filterProblem } from '../envelope/address-pattern.js';
import { scriptsProblems } from './sections/scripts.js';
import { banValueProblem } from '../guard/bans.js';
import { adminCheck } from './sections/admin.js';
import { stateProblems } from './sections/state.js';
import { commandsProblems } from './sections/commands.js';
import { didYouMean, yamlLocator } from './locate.js';
import { normalizeTls, tlsProblems } from './sections/listener-tls.js';
import { aclRulePointer, jwtAuthProblems, normalizeAcl, type AclRuleConfig, type JwtAuthConfig } from './sections/security.js';
import { dtlsProblems } from './sections/listener-dtls.js';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives as the module object.
const addFormats = (addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule;

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true, verbose: true });
(addFormats as unknown as (a: Ajv) => void)(ajv);
/** One compiled validator per catalog (the built-in one, or one per plugin set loaded). */
const validators = new WeakMap<ConfigCatalog, ReturnType<Ajv['compile']>>();
const fragments = new WeakMap<object, ReturnType<Ajv['compile']>>();

function validatorFor(catalog: ConfigCatalog): ReturnType<Ajv['compile']> {
  let v = validators.get(catalog);
  if (!v) {
    // Without $id: one ajv instance compiles a schema per catalog, and ids must be unique in it.
    const { $id: _id, ...schema } = buildConfigSchema(catalog);
    v = ajv.compile(schema);
    validators.set(catalog, v);
  }
  return v;
}

export interface ParseOptions {
  /** Name used in messages (the file path, or '<embedded default>'). */
  readonly source?: string;
  readonly baseDir?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Registered listeners, strategies and codecs (plugins/ builds it from the configured plugins); default the built-ins. */
  readonly catalog?: ConfigCatalog;
  /** The line of a JSON path in the source text (YAML files), added to each problem. */
  readonly locate?: (pointer: string) => number | undefined;
}

/** Reads and validates a configuration file (built-ins only; plugins/loadConfig also loads the configured plugins). Throws ConfigError listing every problem. */
export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env, catalog?: ConfigCatalog): GatewayConfig {
  const { raw, baseDir, locate } = readConfigDocument(file);
  return parseConfig(raw, { source: file, baseDir, env, ...(catalog && { catalog }), ...(locate && { locate }) });
}

/** Reads and parses a configuration file without validating it. Throws ConfigError when it cannot be read or parsed. */
export function readConfigDocument(file: string): ParsedText & { baseDir: string } {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const problem = `${file}: cannot read the file: ${(err as Error).message}`;
    throw new ConfigError(problem, [problem], err);
  }
  return { ...parseText(text, file, extname(path).toLowerCase() === '.json'), baseDir: dirname(path) };
}

/** Parses YAML (a superset of JSON) or strict JSON text and validates it. */
export function parseConfigText(text: string, options: ParseOptions, strictJson = false): GatewayConfig {
  const { raw, locate } = parseText(text, options.source ?? '<config>', strictJson);
  return parseConfig(raw, { ...options, ...(locate && { locate }) });
}

/** A parsed document and, for YAML, the line of a JSON path in it. */
interface ParsedText {
  readonly raw: unknown;
  readonly locate?: (pointer: string) => number | undefined;
}

function parseText(text: string, source: string, strictJson: boolean): ParsedText {
  if (strictJson) {
    try {
      return { raw: JSON.parse(text) };
    } catch (err) {
      const problem = `${source}: not valid JSON: ${(err as Error).message}`;
      throw new ConfigError(problem, [problem], err);
    }
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => `${source}: not valid YAML: ${e.message.split('\n')[0]}`);
    throw new ConfigError(problems.join('\n'), problems);
  }
  return { raw: doc.toJS(), locate: yamlLocator(doc, lines) };
}

/** Problems of `value` against a schema fragment a plugin contributed, each path prefixed by `at`; a fragment that does not compile is one problem. */
export function fragmentProblems(schema: Readonly<Record<string, unknown>>, value: unknown, at: string): string[] {
  try {
    return validateFragment(ajv, fragments, schema, value, at, describe);
  } catch (err) {
    return [`${at}: the schema given for it is not valid JSON Schema: ${(err as Error).message}`];
  }
}

/** Validates an already-parsed document. */
export function parseConfig(raw: unknown, options: ParseOptions = {}): GatewayConfig {
  const source = options.source ?? '<config>';
  const interpolationProblems: InterpolationProblem[] = [];
  const doc = interpolate(raw ?? {}, options.env ?? process.env, interpolationProblems);
  const catalog = options.catalog ?? BUILTIN_CATALOG;
  const found: string[] = interpolationProblems.map((p) => `${p.path}: ${p.message}`);
  found.push(...(catalog.problems ?? []));
  // Validation fills defaults into `doc` (useDefaults), so work on a private copy.
  const validate = validatorFor(catalog);
  const valid = validate(doc) as boolean;
  if (!valid) for (const e of validate.errors ?? []) found.push(withOwner(describe(e), catalog));
  found.push(...crossCheckSafely(doc as Omit<GatewayConfig, 'baseDir'>, valid, catalog));
  const problems = [...new Set(found)].map((p) => `${source}: ${p}${lineOf(p, options.locate)}`);
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}`, problems);
  }
  for (const l of (doc as { listeners: Array<{ tls?: Parameters<typeof normalizeTls>[0] }> }).listeners) if (l.tls) l.tls = normalizeTls(l.tls);
  (doc as { acl: unknown }).acl = normalizeAcl((doc as { acl: unknown }).acl);
  const config = { ...(doc as object), baseDir: options.baseDir ?? process.cwd() } as GatewayConfig;
  if (options.source !== undefined) (config as { source?: string }).source = options.source;
  return deepFreeze(config);
}

/** The embedded default configuration, validated like any file. */
export function defaultConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return parseConfig(structuredClone(EMBEDDED_DEFAULT), { source: '<embedded default>', env });
}

function describe(e: ErrorObject, prefix = ''): string {
  const at = prefix + e.instancePath || '/';
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const near = didYouMean(key, allowed);
      const hint = `${allowed.length ? ` (expected one of: ${allowed.join(', ')})` : ''}${near !== undefined ? `: did you mean '${near}'?` : ''}`;
      return `${at}: unknown key '${key}'${hint}`;
    }
    case 'required':
      return `${joinPath(at, (e.params as { missingProperty: string }).missingProperty)}: is required`;
    case 'enum':
      return `${at}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'type':
      return `${at}: must be of type ${(e.params as { type: string }).type}`;
    case 'pattern':
      return `${at}: must match the pattern ${(e.params as { pattern: string }).pattern}`;
    case 'format':
      return `${at}: must be a valid ${(e.params as { format: string }).format}`;
    default:
      return `${at}: ${e.message ?? 'is invalid'}`;
  }
}

/** " (line N)" for a problem whose text starts with its JSON path, when the source has lines. */
function lineOf(problem: string, locate: ParseOptions['locate']): string {
  const m = /^(\/[^\s:]*): unknown key '([^']*)'/.exec(problem);
  const pointer = m ? joinPath(m[1]!, m[2]!) : /^(\/[^\s:]*)/.exec(problem)?.[1];
  const line = pointer !== undefined ? locate?.(pointer) : undefined;
  return line !== undefined ? ` (line ${line})` : '';
}

/**
 * Cross-reference checks run even when the schema found problems, so one run
 * reports both; on a document too broken for them (a section of the wrong
 * type) they are skipped.
 */
function crossCheckSafely(c: Omit<GatewayConfig, 'baseDir'>, valid: boolean, catalog: ConfigCatalog): string[] {
  if (valid) return crossCheck(c, catalog);
  const arrays = ['listeners', 'pools', 'routes'] as const;
  if (!arrays.every((k) => Array.isArray(c[k]) && c[k].every((x: unknown) => x !== null && typeof x === 'object'))) return [];
  try {
    return crossCheck(c, catalog);
  } catch {
    return [];
  }
}

function joinPath(base: string, key: string): string {
  return `${base === '/' ? '' : base}/${escapePointer(key)}`;
}

/** A problem inside a plugin listener's options names the plugin. */
function withOwner(problem: string, catalog: ConfigCatalog): string {
  const m = /^\/listeners\/\d+\/([^/:]+)/.exec(problem);
  const entry = m ? catalog.listeners.find((l) => l.name === m[1] && l.owner !== 'thinggate') : undefined;
  return entry ? `${problem} (options of listener '${entry.name}' from plugin '${entry.owner}')` : problem;
}

/** A route's codec reference names a registered codec, and its options fit that codec's schema. */
function checkCodec(ref: CodecRef | undefined, at: string, catalog: ConfigCatalog): string[] {
  if (ref === undefined) return [];
  const { type, options } = codecRefParts(ref);
  const codec = catalog.codecs.find((c) => c.name === type.split(';', 1)[0]!.trim().toLowerCase());
  if (!codec) return [`${at}: no codec for '${type}' (registered: ${catalog.codecs.map((c) => c.name).join(', ')})`];
  if (codec.schema === undefined) {
    return Object.keys(options).length > 0 ? [`${at}: codec '${codec.name}' takes no options`] : [];
  }
  const problems = fragmentProblems(codec.schema, options, at);
  return problems.map((p) => `${p} (codec '${codec.name}' from plugin '${codec.owner}')`);
}

/** Checks that JSON Schema cannot express: unique names, references, one target per route. */
function crossCheck(c: Omit<GatewayConfig, 'baseDir'>, catalog: ConfigCatalog): string[] {
  const out: string[] = [];
  const unique = (items: readonly { name?: string }[], section: string): Set<string> => {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      if (item.name === undefined) return;
      if (seen.has(item.name)) out.push(`/${section}/${i}/name: duplicate name '${item.name}'`);
      seen.add(item.name);
    });
    return seen;
  };
  const listenerNames = unique(c.listeners, 'listeners');
  const poolNames = unique(c.pools, 'pools');
  c.pools.forEach((p, i) => {
    if (p.hashOn === 'header' && p.hashHeader === undefined) out.push(`/pools/${i}/hashHeader: is required when hashOn is 'header'`);
  });
  const sockets = new Map<string, number>();
  c.listeners.forEach((l, i) => {
    const transport = catalog.listeners.find((e) => e.name === l.protocol)?.transport ?? 'tcp';
    if (l.proxyProtocol) out.push(...proxyProtocolProblems(l.proxyProtocol, `/listeners/${i}/proxyProtocol`, transport));
    if (l.port === 0) return;
    const key = `${transport}:${l.host}:${l.port}`;
    const other = sockets.get(key);
    if (other !== undefined) out.push(`/listeners/${i}/port: ${transport} port ${l.port} on ${l.host} is already used by /listeners/${other}`);
    else sockets.set(key, i);
    if (l.tls && transport === 'udp') out.push(`/listeners/${i}/tls: not supported for ${l.protocol} (use dtls for CoAP over DTLS)`);
    if (l.dtls) out.push(...dtlsProblems(l.dtls, `/listeners/${i}/dtls`, l.protocol));
    if (l.tls) out.push(...tlsProblems(l.tls as Parameters<typeof tlsProblems>[0], `/listeners/${i}/tls`));
  });
  const adminProblem = c.admin && adminCheck(c.admin);
  if (adminProblem) out.push(adminProblem);
  out.push(...stateProblems(c));
  if (c.commands) out.push(...commandsProblems(c.commands, poolNames));
  out.push(...securityProblems(c));
  c.routes.forEach((r, i) => {
    const targets = [r.pool !== undefined || r.script !== undefined, r.target !== undefined].filter(Boolean).length;
    if (targets === 0) out.push(`/routes/${i}: needs one of 'pool', 'script' or 'target'`);
    if (r.target !== undefined && (r.pool !== undefined || r.script !== undefined)) {
      out.push(`/routes/${i}/target: 'target: devices' cannot be combined with 'pool' or 'script'`);
    }
    if (r.pool !== undefined && !poolNames.has(r.pool)) {
      out.push(`/routes/${i}/pool: no pool named '${r.pool}' (defined: ${[...poolNames].join(', ') || 'none'})`);
    }
    if (r.mirror && r.mirror.file === undefined && r.mirror.pool === undefined) out.push(`/routes/${i}/mirror: needs 'file', 'pool' or both`);
    if (r.mirror?.pool !== undefined && !poolNames.has(r.mirror.pool)) {
      out.push(`/routes/${i}/mirror/pool: no pool named '${r.mirror.pool}' (defined: ${[...poolNames].join(', ') || 'none'})`);
    }
    const protocols = new Set(catalog.listeners.map((e) => e.envelopeProtocol ?? e.name));
    if (r.match.protocol !== undefined && !protocols.has(r.match.protocol)) {
      out.push(`/routes/${i}/match/protocol: must be one of ${[...protocols].map((p) => JSON.stringify(p)).join(', ')}`);
    }
    if (r.match.listener !== undefined && !listenerNames.has(r.match.listener)) {
      out.push(`/routes/${i}/match/listener: no listener named '${r.match.listener}'`);
    }
    out.push(...checkCodec(r.decode, `/routes/${i}/decode`, catalog), ...checkCodec(r.request.encode, `/routes/${i}/request/encode`, catalog));
    const fp = filterProblem(r.match.address);
    if (fp) out.push(`/routes/${i}/match/address: ${fp}`);
    for (const m of r.request.path.matchAll(/\{([^}]*)\}/g)) {
      if (!/^(clientId|address|address\.\d+|listener|protocol|id)$/.test(m[1]!)) {
        out.push(`/routes/${i}/request/path: unknown placeholder {${m[1]}} (expected {clientId}, {address}, {address.N}, {listener}, {protocol} or {id})`);
      }
    }
  });
  out.push(...scriptsProblems(c.scripts));
  c.guard.bans.forEach((b, i) => {
    const problem = banValueProblem(b.kind, b.value);
    if (problem) out.push(`/guard/bans/${i}/value: ${problem}`);
  });
  c.guard.exempt.forEach((p, i) => {
    const problem = banValueProblem('cidr', p);
    if (problem) out.push(`/guard/exempt/${i}: ${problem}`);
  });
  if (c.guard.scoring.maxBanSeconds < c.guard.scoring.banSeconds) out.push('/guard/scoring/maxBanSeconds: must be at least banSeconds');
  return out;
}

/** The PROXY protocol prefixes a TCP stream: no UDP listener has one; a trusted balancer is named by an address prefix. */
function proxyProtocolProblems(p: ProxyProtocolConfig, at: string, transport: string): string[] {
  if (transport === 'udp') return [`${at}: not supported on a ${transport} listener (the PROXY protocol is for TCP streams)`];
  const out: string[] = [];
  p.trustedFrom.forEach((prefix, j) => {
    const problem = banValueProblem('cidr', prefix);
    if (problem) out.push(`${at}/trustedFrom/${j}: ${problem}`);
  });
  if (p.enabled && p.trustedFrom.length === 0) out.push(`${at}/trustedFrom: name at least one balancer address prefix (every header would be refused)`);
  return out;
}

/** Placeholders, patterns and combinations of the identity sections (docs/security.md). */
function securityProblems(c: Omit<GatewayConfig, 'baseDir'>): string[] {
  const out: string[] = [];
  c.listeners.forEach((l, i) => {
    if (l.protocol === 'coap' && l.auth.length > 0 && !l.dtls)
      out.push(`/listeners/${i}/auth: coap has no credentials over plain UDP (configure dtls for PSK or certificate identities)`);
    l.auth.forEach((a, j) => {
      if (a.type === 'x509' && !l.dtls && (!l.tls?.ca || !l.tls.requestCert))
        out.push(`/listeners/${i}/auth/${j}: x509 needs tls.ca and tls.requestCert on this listener`);
      if (a.type === 'x509' && l.dtls && !l.dtls.ca) out.push(`/listeners/${i}/auth/${j}: x509 needs dtls.ca on this listener`);
      if (a.type === 'http' && !c.pools.some((p) => p.name === a.pool)) out.push(`/listeners/${i}/auth/${j}/pool: no pool named '${a.pool}'`);
      if (a.type === 'jwt') out.push(...jwtAuthProblems(a as JwtAuthConfig, `/listeners/${i}/auth/${j}`, c.pools));
    });
    if (l.clientId !== undefined) {
      const p = bindingProblem(l.clientId);
      if (p) out.push(`/listeners/${i}/clientId: ${p}`);
    }
  });
  const rules: readonly AclRuleConfig[] = Array.isArray(c.acl) ? c.acl : ((c.acl as { rules?: AclRuleConfig[] } | undefined)?.rules ?? []);
  rules.forEach((r, i) => {
    const p = aclRuleProblem(r);
    if (p) out.push(`${aclRulePointer(c.acl, i)}${p}`);
  });
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/**
 * The route table: routes compiled once per configuration, matched in order
 * (first match wins) against an Envelope's protocol, listener, method,
 * address (MQTT wildcard semantics) and TLS ClientHello fingerprint.
 */
import type { Envelope, Rejected } from '../envelope/index.js';
import { compileFilter, matchesCompiled, type CompiledFilter } from '../envelope/address-pattern.js';
import type { RouteConfig } from '../config/types.js';
import type { Codec, CodecResolver } from '../envelope/codec.js';
import { ThinggateError } from '../errors.js';
import { compilePathTemplate, type CompiledTemplate } from './path-template.js';

export interface CompiledRoute {
  readonly index: number;
  readonly name: string;
  readonly config: RouteConfig;
  readonly renderPath: CompiledTemplate;
  /** Extra headers, names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
  readonly kind: 'pool' | 'script' | 'devices';
  /** The route's `decode` codec; without one, the message's content type picks it. */
  readonly decoder?: Codec;
  /** The route's `request.encode` codec. */
  readonly encoder?: Codec;
  /** Codecs by content type, for messages without a route `decode`. */
  readonly codecs?: CodecResolver;
  /** Payload inspection (schema, content types, size): the refusal, or undefined. */
  readonly inspect?: (env: Envelope) => Rejected | undefined;
  /** Takes a copy of each message the route accepts for inspection (the mirror); never waits. */
  readonly tap?: (env: Envelope) => void;
}

/** Builds a route's payload inspection and mirror (security/); each undefined when the route has none. */
export type InspectionFactory = (route: RouteConfig, index: number) => Pick<CompiledRoute, 'inspect' | 'tap'>;

interface Matcher {
  readonly route: CompiledRoute;
  readonly protocol?: string;
  readonly listener?: string;
  readonly method?: string;
  /** JA4 / JA3 fingerprints of which the connection's must be one. */
  readonly tlsFingerprints?: ReadonlySet<string>;
  /** undefined = matches every address ('#' and no '$' topic rule to apply to non-MQTT addresses). */
  readonly address: CompiledFilter;
}

export class RouteTable {
  private readonly matchers: Matcher[];
  /** Messages matched per route index (admin API). */
  private readonly hitCounts: number[];

  /**
   * `codecs` builds the routes' `decode` / `request.encode` codecs (the codec registry); routes naming codecs need it.
   * `inspection` builds each route's payload inspection and mirror.
   */
  constructor(routes: readonly RouteConfig[], codecs?: CodecResolver, inspection?: InspectionFactory) {
    this.matchers = routes.map((config, index) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(config.request.headers)) headers[k.toLowerCase()] = v;
      const { inspect, tap } = inspection?.(config, index) ?? {};
      const route: CompiledRoute = {
        ...(inspect && { inspect }),
        ...(tap && { tap }),
        index,
        name: config.name ?? `routes[${index}]`,
        config,
        renderPath: compilePathTemplate(config.request.path),
        headers,
        kind: config.target === 'devices' ? 'devices' : config.script !== undefined ? 'script' : 'pool',
        ...codecsOf(config, index, codecs),
      };
      const m: Matcher = {
        route,
        address: compileFilter(config.match.address),
        ...(config.match.protocol !== undefined && { protocol: config.match.protocol }),
        ...(config.match.listener !== undefined && { listener: config.match.listener }),
        ...(config.match.method !== undefined && { method: config.match.method.toUpperCase() }),
        ...(config.match.tlsFingerprint !== undefined && {
          tlsFingerprints: new Set(typeof config.match.tlsFingerprint === 'string' ? [config.match.tlsFingerprint] : config.match.tlsFingerprint),
        }),
      };
      return m;
    });
    this.hitCounts = new Array<number>(routes.length).fill(0);
  }

  /** The first route matching the envelope, or undefined; counts the hit. */
  match(env: Envelope): CompiledRoute | undefined {
    const route = this.find(env);
    if (route) this.hitCounts[route.index]!++;
    return route;
  }

  /** The first route matching the envelope, without counting a hit (logs, admin). */
  find(env: Envelope): CompiledRoute | undefined {
    for (const m of this.matchers) {
      if (m.protocol !== undefined && m.protocol !== env.protocol) continue;
      if (m.listener !== undefined && m.listener !== env.listener) continue;
      if (m.method !== undefined && m.method !== env.method) continue;
      if (!matchesCompiled(m.address, env.address)) continue;
      if (m.tlsFingerprints !== undefined && !fingerprintIn(m.tlsFingerprints, env)) continue;
      return m.route;
    }
    return undefined;
  }

  /** Messages each route matched, by route index. */
  hits(): readonly number[] {
    return this.hitCounts;
  }

  /** Distinct script paths named by routes. */
  scripts(): string[] {
    return [...new Set(this.matchers.map((m) => m.route.config.script).filter((s): s is string => s !== undefined))];
  }
}

function codecsOf(config: RouteConfig, index: number, codecs: CodecResolver | undefined): Pick<CompiledRoute, 'decoder' | 'encoder' | 'codecs'> {
  if (!codecs) {
    if (config.decode !== undefined || config.request.encode !== undefined)
      throw new ThinggateError('TG_ERR_CONFIG_INVALID', `/routes/${index}: codecs named but no codec registry given`);
    return {};
  }
  const build = (ref: RouteConfig['decode'], at: string): Codec | undefined => {
    if (ref === undefined) return undefined;
    try {
      return codecs.resolve(ref);
    } catch (err) {
      throw new ThinggateError('TG_ERR_CONFIG_INVALID', `/routes/${index}/${at}: ${(err as Error).message}`, { cause: err });
    }
  };
  const decoder = build(config.decode, 'decode');
  const encoder = build(config.request.encode, 'request/encode');
  return { codecs, ...(decoder && { decoder }), ...(encoder && { encoder }) };
}

function fingerprintIn(set: ReadonlySet<string>, env: Envelope): boolean {
  const tls = env.source.tls;
  return tls !== undefined && ((tls.ja4 !== undefined && set.has(tls.ja4)) || (tls.ja3 !== undefined && set.has(tls.ja3)));
}

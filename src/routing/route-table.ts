/**
 * The route table: routes compiled once per configuration, matched in order
 * (first match wins) against an Envelope's protocol, listener, method and
 * address (MQTT wildcard semantics).
 */
import type { Envelope } from '../envelope/index.js';
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
}

interface Matcher {
  readonly route: CompiledRoute;
  readonly protocol?: string;
  readonly listener?: string;
  readonly method?: string;
  /** undefined = matches every address ('#' and no '$' topic rule to apply to non-MQTT addresses). */
  readonly address: CompiledFilter;
}

export class RouteTable {
  private readonly matchers: Matcher[];

  /** `codecs` builds the routes' `decode` / `request.encode` codecs (the codec registry); routes naming codecs need it. */
  constructor(routes: readonly RouteConfig[], codecs?: CodecResolver) {
    this.matchers = routes.map((config, index) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(config.request.headers)) headers[k.toLowerCase()] = v;
      const route: CompiledRoute = {
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
      };
      return m;
    });
  }

  /** The first route matching the envelope, or undefined. */
  match(env: Envelope): CompiledRoute | undefined {
    for (const m of this.matchers) {
      if (m.protocol !== undefined && m.protocol !== env.protocol) continue;
      if (m.listener !== undefined && m.listener !== env.listener) continue;
      if (m.method !== undefined && m.method !== env.method) continue;
      if (!matchesCompiled(m.address, env.address)) continue;
      return m.route;
    }
    return undefined;
  }

  /** Distinct script paths named by routes. */
  scripts(): string[] {
    return [...new Set(this.matchers.map((m) => m.route.config.script).filter((s): s is string => s !== undefined))];
  }
}

function codecsOf(config: RouteConfig, index: number, codecs: CodecResolver | undefined): Pick<CompiledRoute, 'decoder' | 'encoder' | 'codecs'> {
  if (!codecs) {
    if (config.decode !== undefined || config.request.encode !== undefined) throw new ThinggateError('TG_ERR_CONFIG_INVALID', `/routes/${index}: codecs named but no codec registry given`);
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

/**
 * Registries: listeners, codecs, strategies and authenticators looked up by
 * name. Built-ins (plugins/builtins.ts) and plugins fill them the same way;
 * a name registered twice is a configuration error naming both owners.
 */
import type { CatalogEntry, ConfigCatalog } from '../config/catalog.js';
import type { StrategyFactory } from '../balancer/strategies/strategy.js';
import { mediaTypeKey, type Codec, type CodecResolver } from '../envelope/codec.js';
import { codecRefParts } from '../config/catalog.js';
import type { AuthenticatorContribution, CodecContribution, ListenerContribution } from './api.js';

/** Raised by `register` on a duplicate name; the loader reports it with the plugin's path. */
export class DuplicateRegistration extends Error {}

export class Registry<T extends { readonly name: string }> {
  private readonly items = new Map<string, { readonly item: T; readonly owner: string }>();

  constructor(
    readonly kind: string,
    private readonly key: (name: string) => string = (n) => n,
  ) {}

  register(item: T, owner: string): void {
    const key = this.key(item.name);
    const existing = this.items.get(key);
    if (existing) throw new DuplicateRegistration(`${this.kind} '${key}' is already registered by ${describeOwner(existing.owner)}`);
    this.items.set(key, { item, owner });
  }

  get(name: string): T | undefined {
    return this.items.get(this.key(name))?.item;
  }

  /** Every registration in order, with the plugin that made it. */
  entries(): Array<{ readonly item: T; readonly owner: string }> {
    return [...this.items.values()];
  }
}

function describeOwner(owner: string): string {
  return owner === 'thinggate' ? 'a built-in' : `plugin '${owner}'`;
}

/** A loaded plugin, as the admin API lists it. */
export interface LoadedPlugin {
  readonly name: string;
  readonly version?: string;
  /** As written in `plugins[].use`. */
  readonly use: string;
  /** What it registered, by kind. */
  readonly contributions: Readonly<Record<'listeners' | 'codecs' | 'strategies' | 'authenticators', readonly string[]>>;
}

export class Registries {
  readonly listeners = new Registry<ListenerContribution>('listener');
  readonly codecs = new Registry<CodecContribution>('codec', mediaTypeKey);
  readonly strategies = new Registry<StrategyFactory>('strategy');
  readonly authenticators = new Registry<AuthenticatorContribution>('authenticator');
  private readonly loaded: LoadedPlugin[] = [];

  /** Records a plugin whose setup completed. */
  addPlugin(plugin: LoadedPlugin): void {
    this.loaded.push(Object.freeze(plugin));
  }

  /** The configured plugins that loaded, in configuration order (for the admin API). */
  plugins(): readonly LoadedPlugin[] {
    return this.loaded;
  }

  /** Codecs for one configuration's routes; relative files in codec options resolve against `baseDir`. */
  codecResolver(baseDir: string): CodecResolver {
    const plain = new Map<string, Codec | undefined>();
    const create = (type: string, options: Readonly<Record<string, unknown>>): Codec => {
      const contribution = this.codecs.get(mediaTypeKey(type));
      if (!contribution) throw new Error(`no codec for '${type}'`);
      return contribution.create(options, { baseDir });
    };
    return {
      resolve: (ref) => {
        const { type, options } = codecRefParts(ref);
        return create(type, options);
      },
      forContentType: (contentType) => {
        const key = mediaTypeKey(contentType);
        // A codec that needs options (a protobuf message type) cannot read a message by its content type alone.
        if (!plain.has(key)) plain.set(key, this.codecs.get(key) ? tryCreate(() => create(key, {})) : undefined);
        return plain.get(key);
      },
    };
  }

  /** The schema-facing view: names, owners, option schemas and transports; `problems` from loading. */
  catalog(problems: readonly string[] = []): ConfigCatalog {
    const entries = <T extends { readonly name: string; readonly schema?: CatalogEntry['schema'] }>(
      r: Registry<T>,
      extra?: (item: T) => Partial<CatalogEntry>,
    ) =>
      r.entries().map(({ item, owner }) => ({
        name: r === (this.codecs as unknown) ? mediaTypeKey(item.name) : item.name,
        owner,
        ...(item.schema !== undefined && { schema: item.schema }),
        ...extra?.(item),
      }));
    return {
      listeners: entries(this.listeners, (l) => ({
        transport: l.transport,
        ...(l.envelopeProtocol !== undefined && { envelopeProtocol: l.envelopeProtocol }),
      })),
      strategies: this.strategies.entries().map(({ item, owner }) => ({ name: item.name, owner })),
      codecs: entries(this.codecs),
      authenticators: entries(this.authenticators),
      problems,
    };
  }
}

function tryCreate(make: () => Codec): Codec | undefined {
  try {
    return make();
  } catch {
    return undefined;
  }
}

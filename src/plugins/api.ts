/**
 * The plugin API. A plugin is a trusted ES module that runs in the gateway
 * process (unlike routing scripts, it is not sandboxed) and exports
 * `{ name, apiVersion, setup(api, options) }`. `setup` registers
 * contributions — listeners, codecs, balancing strategies, authenticators —
 * each under a name and with the JSON Schema of its options, which the
 * configuration loader validates like the built-in sections.
 *
 * @example
 * export default {
 *   name: 'cbor', apiVersion: 1,
 *   setup(api) { api.registerCodec({ name: 'application/cbor', create: () => ({ contentType: 'application/cbor', decode, encode }) }); },
 * };
 */
import type { Logger } from 'pino';
import type { Codec } from '../envelope/codec.js';
import type { SchemaFragment } from '../config/catalog.js';
import type { ListenerFactory } from '../listeners/listener.js';
import type { StrategyFactory } from '../balancer/strategies/strategy.js';
import type { StreamProtocol } from './stream-contract.js';
import type { AuthenticatorFactoryEntry } from '../security/gate.js';

/** The plugin API version this gateway implements; a plugin declaring another one is refused. */
export const PLUGIN_API_VERSION = 1;

export interface Plugin<Options = Record<string, unknown>> {
  /** Unique among the configured plugins; named in errors and listed by the admin API. */
  readonly name: string;
  readonly apiVersion: number;
  /** The plugin's own version, shown by the admin API. */
  readonly version?: string;
  /** JSON Schema of `plugins[].options`; problems are reported at `/plugins/N/options/...`. */
  readonly optionsSchema?: SchemaFragment;
  /** Registers contributions. A throw (or rejection) is a configuration error naming the plugin. */
  setup(api: PluginApi, options: Options): void | Promise<void>;
}

/** What a plugin may do in `setup`. Each name may be registered once across built-ins and plugins. */
export interface PluginApi {
  readonly apiVersion: number;
  /** Folder of the configuration file: resolve the plugin's relative files against it. */
  readonly baseDir: string;
  readonly logger: Logger;
  /** A listener protocol: `listeners[].protocol: <name>`, its options under `listeners[].<name>`. */
  registerListener(contribution: ListenerContribution): void;
  /** A listener for a byte-stream protocol over TCP, or a datagram protocol over UDP; thinggate owns the sockets, limits and error isolation. */
  registerStreamListener(contribution: StreamListenerContribution): void;
  /** A codec, under its media type: routes name it in `decode` / `request.encode`, scripts reach it through `msg.decode()`. */
  registerCodec(contribution: CodecContribution): void;
  /** A balancing strategy: `pools[].strategy: <name>`. */
  registerStrategy(contribution: StrategyFactory): void;
  /** An authenticator type (`listeners[].auth[].type`), for the identity stage. */
  registerAuthenticator(contribution: AuthenticatorContribution): void;
}

export interface ListenerContribution {
  readonly name: string;
  readonly transport: 'tcp' | 'udp';
  /** The envelope protocol its messages carry when it is not `name` (the built-in `mqtt-ws` produces `mqtt`). */
  readonly envelopeProtocol?: string;
  /** Schema of `listeners[].<name>`; the validated, defaulted value is `options` below. */
  readonly schema?: SchemaFragment;
  /** Builds one listener; `options` is its `listeners[].<name>` value. */
  readonly create: (context: Parameters<ListenerFactory>[0], options: unknown) => ReturnType<ListenerFactory>;
}

export interface StreamListenerContribution {
  readonly name: string;
  /** `udp`: one socket, a protocol state machine per source address and port, each `onData` one datagram. Default `tcp`. */
  readonly transport?: 'tcp' | 'udp';
  readonly schema?: SchemaFragment;
  /** One protocol state machine per connection. */
  readonly protocol: StreamProtocol;
}

export interface CodecContribution {
  /** The media type, e.g. `application/cbor` (matched without parameters, case-insensitively). */
  readonly name: string;
  /** Schema of the options a route may give with it (`decode: { type: <name>, ...options }`). */
  readonly schema?: SchemaFragment;
  /** Builds a codec for one route's options (`{}` when none); may read files relative to `baseDir`. */
  create(options: Readonly<Record<string, unknown>>, context: { readonly baseDir: string }): Codec;
}

/**
 * An authenticator type: `listeners[].auth: [{ type: <name>, ...options }]`.
 * `create` builds one chain step per entry (the Authenticator interface of
 * src/security/authenticator.ts: allow with an identity and optional ACL
 * rules, deny, or pass); a throw is a configuration error naming the listener.
 */
export interface AuthenticatorContribution extends AuthenticatorFactoryEntry {
  readonly name: string;
  /** Schema of one `auth` entry (its `type` is allowed beside the keys it lists). */
  readonly schema?: SchemaFragment;
}

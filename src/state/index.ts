/**
 * The storage-contract layer (DESIGN.md, "State"): presence, the node-to-node
 * bus, shared counters and ban storage, each with an embedded implementation
 * (this process only; the default) and a Redis one (every node and worker
 * pointing at the same Redis shares them). Mailboxes, sessions and retained
 * messages join this layer beside them. Nothing here imports above
 * envelope/ and util/: the gateway hands in what it needs.
 */
import { join } from 'node:path';
import type { BanStore } from './bans.js';
import type { Bus } from './bus.js';
import type { Counters } from './counters.js';
import type { Presence } from './presence.js';
import { EmbeddedHub, EmbeddedPresence } from './embedded/presence.js';
import { EmbeddedBus } from './embedded/bus.js';
import { EmbeddedCounters } from './embedded/counters.js';
import { FileBanStore } from './embedded/bans.js';
import { RedisLink } from './redis/link.js';
import { RedisPresence } from './redis/presence.js';
import { RedisBus } from './redis/bus.js';
import { RedisCounters } from './redis/counters.js';
import { RedisBanStore } from './redis/bans.js';
import type { ScriptStateStore } from './script-state.js';
import { EmbeddedScriptState } from './embedded/script-state.js';
import { RedisScriptState } from './redis/script-state.js';
import type { MessageCodec } from './codec.js';
import type { SessionStore } from './sessions.js';
import type { RetainedStore } from './retained.js';
import type { MailboxStore } from './mailbox.js';
import { MemorySessionStore } from './embedded/sessions.js';
import { MemoryRetainedStore, type RetainedLimits } from './embedded/retained.js';
import { DurableSessionStore } from './embedded/durable-sessions.js';
import { DurableRetainedStore } from './embedded/durable-retained.js';
import { EmbeddedMailboxStore } from './embedded/mailbox.js';
import { RedisSessionStore } from './redis/sessions.js';
import { RedisRetainedStore } from './redis/retained.js';
import { RedisMailboxStore } from './redis/mailbox.js';

export type * from './bans.js';
export type * from './bus.js';
export type * from './counters.js';
export type * from './presence.js';
export type * from './codec.js';
export type * from './sessions.js';
export type * from './retained.js';
export type * from './script-state.js';

/** The `state` configuration section as this layer reads it. */
export interface StateSettings {
  readonly backend: 'embedded' | 'redis';
  readonly url?: string;
  readonly keyPrefix: string;
  readonly nodeTtlMs: number;
}

export interface StateOptions {
  readonly nodeId: string;
  /** The embedded ban file's folder (guard.stateDir); undefined keeps bans in memory. */
  readonly banDir?: string;
  /** A shared-store command failed; the caller carries on degraded. */
  readonly onError?: (operation: string, err: Error) => void;
  /** The shared store became reachable (true) or not (false). */
  readonly onStatus?: (up: boolean) => void;
  /** Embedded only: instances sharing a hub stand for nodes of one process (tests). */
  readonly hub?: EmbeddedHub;
}

export interface State {
  readonly backend: 'embedded' | 'redis';
  readonly nodeId: string;
  readonly presence: Presence;
  readonly bus: Bus;
  readonly counters: Counters;
  readonly bans: BanStore;
  /** Script `ctx.state` shared between nodes (the gateway uses it on the redis backend only). */
  readonly scriptState: ScriptStateStore;
  /** Connects to the shared store; resolves false when it did not answer in time (the state works degraded and keeps trying). */
  start(): Promise<boolean>;
  /** Whether the shared store is reachable now (always true when embedded). */
  connected(): boolean;
  close(): Promise<void>;
}

/** Builds the configured backend. Nothing connects before `start()`. */
export function createState(settings: StateSettings, options: StateOptions): State {
  const { nodeId } = options;
  if (settings.backend === 'redis') {
    const link = new RedisLink({
      url: settings.url!,
      keyPrefix: settings.keyPrefix,
      ...(options.onError && { onError: options.onError }),
      ...(options.onStatus && { onStatus: options.onStatus }),
    });
    const bans = new RedisBanStore(link);
    const scriptState = new RedisScriptState(link, nodeId);
    return {
      backend: 'redis',
      nodeId,
      presence: new RedisPresence(link, nodeId, settings.nodeTtlMs),
      bus: new RedisBus(link, nodeId),
      counters: new RedisCounters(link),
      bans,
      scriptState,
      start: () => link.connect(),
      connected: () => link.connected,
      close: async () => {
        await scriptState.close();
        await bans.close();
        await link.close();
      },
    };
  }
  const hub = options.hub ?? new EmbeddedHub();
  const scriptState = new EmbeddedScriptState(nodeId, hub);
  return {
    backend: 'embedded',
    nodeId,
    presence: new EmbeddedPresence({ nodeId, nodeTtlMs: settings.nodeTtlMs, hub }),
    bus: new EmbeddedBus(nodeId, hub),
    counters: new EmbeddedCounters(hub),
    bans: new FileBanStore(options.banDir),
    scriptState,
    start: async () => true,
    connected: () => true,
    close: () => scriptState.close(),
  };
}

export { EmbeddedHub } from './embedded/presence.js';

/** Where the device stores keep their data. */
export interface DeviceStoreOptions<M> {
  /** Turns the caller's message into text and back (durable and Redis stores). */
  readonly codec: MessageCodec<M>;
  /** Embedded: keep sessions and retained messages on disk (in `directory`), else in memory. */
  readonly durable: boolean;
  /** Embedded: the folder holding the session and retained databases. */
  readonly directory: string;
  readonly retainedLimits?: RetainedLimits;
  /** A shared-store command failed; the caller carries on degraded. */
  readonly onError?: (operation: string, err: Error) => void;
  /** Redis: this node's id (presence's), under which the sessions its connections hold are indexed. */
  readonly nodeId?: string;
}

/** The stores of device data: persistent sessions, retained messages and command mailboxes. */
export interface DeviceStores<M> {
  readonly sessions: SessionStore<M>;
  readonly retained: RetainedStore<M>;
  /**
   * A mailbox store; `directory` is where the embedded one keeps its database,
   * `onWriteError` hears of a batch it failed to write.
   */
  mailbox(directory: string, onWriteError?: (err: Error) => void): MailboxStore;
  /** Loads what a previous process left (embedded) or connects (Redis; resolves false when it did not answer in time). */
  open(): Promise<boolean>;
  close(): Promise<void>;
}

/** Builds the device stores of the configured backend. Nothing is read or connected before `open()`. */
export function createDeviceStores<M>(settings: StateSettings, options: DeviceStoreOptions<M>): DeviceStores<M> {
  if (settings.backend === 'redis') return createRedisDeviceStores(settings, options);
  const { codec, durable, directory } = options;
  const sessions: SessionStore<M> = durable ? new DurableSessionStore<M>(join(directory, 'sessions'), codec) : new MemorySessionStore<M>();
  const retained: RetainedStore<M> = durable
    ? new DurableRetainedStore<M>(join(directory, 'retained'), codec, options.retainedLimits)
    : new MemoryRetainedStore<M>(options.retainedLimits);
  return {
    sessions,
    retained,
    mailbox: (dir, onWriteError) => new EmbeddedMailboxStore(dir, onWriteError ? { onWriteError } : {}),
    open: async () => {
      await sessions.open?.();
      await retained.open?.();
      return true;
    },
    close: async () => {
      await sessions.close();
      await retained.close();
    },
  };
}

/**
 * The Redis device stores share one link of their own (two connections),
 * apart from presence and the bus: a slow mailbox scan never delays a
 * heartbeat.
 */
function createRedisDeviceStores<M>(settings: StateSettings, options: DeviceStoreOptions<M>): DeviceStores<M> {
  const link = new RedisLink({ url: settings.url!, keyPrefix: settings.keyPrefix, ...(options.onError && { onError: options.onError }) });
  return {
    sessions: new RedisSessionStore<M>(link, options.codec, {
      nodeTtlMs: settings.nodeTtlMs,
      ...(options.nodeId !== undefined && { nodeId: options.nodeId }),
    }),
    retained: new RedisRetainedStore<M>(link, options.codec, options.retainedLimits),
    mailbox: () => new RedisMailboxStore(link),
    open: () => link.connect(),
    close: () => link.close(),
  };
}

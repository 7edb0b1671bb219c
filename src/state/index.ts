/**
 * The storage-contract layer (DESIGN.md, "State"): presence, the node-to-node
 * bus, shared counters and ban storage, each with an embedded implementation
 * (this process only; the default) and a Redis one (every node and worker
 * pointing at the same Redis shares them). Mailboxes, sessions and retained
 * messages join this layer beside them. Nothing here imports above
 * envelope/ and util/: the gateway hands in what it needs.
 */
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

export type * from './bans.js';
export type * from './bus.js';
export type * from './counters.js';
export type * from './presence.js';

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
    return {
      backend: 'redis',
      nodeId,
      presence: new RedisPresence(link, nodeId, settings.nodeTtlMs),
      bus: new RedisBus(link, nodeId),
      counters: new RedisCounters(link),
      bans,
      start: () => link.connect(),
      connected: () => link.connected,
      close: async () => {
        await bans.close();
        await link.close();
      },
    };
  }
  const hub = options.hub ?? new EmbeddedHub();
  return {
    backend: 'embedded',
    nodeId,
    presence: new EmbeddedPresence({ nodeId, nodeTtlMs: settings.nodeTtlMs, hub }),
    bus: new EmbeddedBus(nodeId, hub),
    counters: new EmbeddedCounters(hub),
    bans: new FileBanStore(options.banDir),
    start: async () => true,
    connected: () => true,
    close: async () => {},
  };
}

export { EmbeddedHub } from './embedded/presence.js';

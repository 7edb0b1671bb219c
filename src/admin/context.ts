/**
 * What the admin server sees of a running gateway. The composition root
 * implements it; admin/ never imports the gateway, listeners or pools.
 */
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import type { GatewayConfig, RouteConfig } from '../config/types.js';
import type { Metrics } from '../observability/metrics.js';
import type { EventLog } from '../observability/events.js';
import type { PoolStats } from '../balancer/types.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { ConnectionInfo, ListenerStats } from '../listeners/listener.js';
import type { ScriptInfo } from '../routing/script-host.js';
import type { MessageSampler } from './sampler.js';
import type { Ban, BanKind } from '../guard/bans.js';
import type { NodeInfo } from '../state/index.js';
import type { MirroredClient } from '../security/mirror-switch.js';

/** This node and its peers, as the admin API shows them. */
export interface ClusterView {
  /** This node's id (`node.id`). */
  id(): string;
  /** `embedded` or `redis`. */
  backend(): string;
  /** Live nodes from presence heartbeats (this one included). */
  nodes(): Promise<NodeInfo[]>;
}

/** The guard's bans as the admin API sees them. */
export interface BanAdmin {
  list(): Ban[];
  add(ban: { kind: BanKind; value: string; reason: string; ttlMs?: number }): Ban;
  /** Lifts a dynamic ban; undefined when there is none with this id. */
  remove(id: string): Ban | undefined;
}

/** Clients switched on for every route mirror at run time. */
export interface MirrorAdmin {
  enable(clientId: string, ttlMs?: number): MirroredClient;
  disable(clientId: string): MirroredClient | undefined;
  list(): MirroredClient[];
}

export interface ListenerView {
  readonly name: string;
  readonly protocol: string;
  readonly address: AddressInfo | null;
  stats(): ListenerStats;
  /** Open connections, when the protocol has them (CoAP has exchanges, not connections). */
  connections?(): ConnectionInfo[];
  /** Closes a client's connection with the protocol's administrative reason; false when no such client. */
  closeConnection?(clientId: string, reason: string): boolean;
}

export interface RouteView {
  readonly index: number;
  readonly name: string;
  readonly match: RouteConfig['match'];
  readonly pool?: string;
  readonly script?: string;
  readonly target?: string;
  /** Messages this route matched since the configuration was loaded. */
  readonly hits: number;
}

export interface Readiness {
  readonly ready: boolean;
  /** Why not, one line per reason. */
  readonly reasons: readonly string[];
}

export interface AdminContext {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly events: EventLog;
  readonly devices: DeviceRegistry;
  /** Top talkers and latency, sampled while a dashboard is open. */
  readonly sampler: MessageSampler;
  readonly configuration: GatewayConfig;
  readonly bans: BanAdmin;
  readonly mirror: MirrorAdmin;
  readonly cluster: ClusterView;
  readiness(): Readiness;
  listenerViews(): ListenerView[];
  poolStats(): PoolStats[];
  /** Drains (or undrains) one endpoint: no new messages, in-flight ones finish. Undefined when there is no such pool or endpoint. */
  setEndpointDrained(pool: string, url: string, drained: boolean): boolean | undefined;
  routeViews(): RouteView[];
  scriptViews(): ScriptInfo[];
  /** Re-reads one script now; undefined when no route names it. */
  reloadScript(script: string): Promise<ScriptInfo | undefined>;
  /** Reads the configuration file again and applies it; rejects with a ConfigError listing every problem. */
  reloadConfiguration(): Promise<void>;
}

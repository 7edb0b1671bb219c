/** The validated, defaulted and frozen configuration. */
import type { ListenerConfig } from './sections/listeners.js';
import type { PoolConfig } from './sections/pools.js';
import type { RouteConfig } from './sections/routes.js';
import type { ScriptsConfig } from './sections/scripts.js';
import type { AclConfig } from './sections/security.js';
import type { AdminConfig, LogConfig, ShutdownConfig } from './sections/admin.js';
import type { GuardConfig } from './sections/guard.js';
import type { PluginConfig } from './sections/plugins.js';
import type { NodeConfig, StateConfig } from './sections/state.js';
import type { CommandsConfig } from './sections/commands.js';

export type * from './sections/listeners.js';
export type * from './sections/listener-mqtt.js';
export type * from './sections/listener-coap.js';
export type * from './sections/listener-amqp.js';
export type * from './sections/listener-http.js';
export type * from './sections/listener-tls.js';
export type * from './sections/pools.js';
export type * from './sections/routes.js';
export type * from './sections/scripts.js';
export type * from './sections/admin.js';
export type * from './sections/plugins.js';
export type * from './catalog.js';
export type * from './sections/security.js';
export type * from './sections/guard.js';
export type * from './sections/state.js';
export type * from './sections/commands.js';

export interface GatewayConfig {
  readonly plugins: readonly PluginConfig[];
  readonly listeners: readonly ListenerConfig[];
  readonly pools: readonly PoolConfig[];
  readonly routes: readonly RouteConfig[];
  readonly scripts: ScriptsConfig;
  readonly admin?: AdminConfig;
  readonly log: LogConfig;
  readonly shutdown: ShutdownConfig;
  /** Authorization rules, first match wins, and the default (docs/security.md). */
  readonly acl: AclConfig;
  readonly guard: GuardConfig;
  /** Where shared device state lives (docs/scaling.md). */
  readonly state: StateConfig;
  readonly node: NodeConfig;
  /** Worker processes sharing the sockets (1: this process alone). */
  readonly workers: number;
  /** Southbound commands and mailboxes; absent: no command API and no mailbox (docs/commands.md). */
  readonly commands?: CommandsConfig;
  /** Where the file was read from (undefined for the embedded default); relative paths resolve against its folder. */
  readonly source?: string;
  readonly baseDir: string;
}

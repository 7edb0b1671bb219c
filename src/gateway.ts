/**
 * The composition root: configuration → stages → start / reload / drain /
 * stop. It is the only module that knows every stage; stages know only the
 * contracts of their neighbours.
 */
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import type { GatewayConfig, ListenerConfig } from './config/types.js';
import { createBalancer } from './balancer/index.js';
import { DeviceRegistry } from './devices/registry.js';
import { Guard } from './guard/guard.js';
import type { Listener } from './listeners/index.js';
import { builtinRegistries } from './plugins/builtins.js';
import type { LoadedPlugin, Registries } from './plugins/registry.js';
import { Metrics } from './observability/metrics.js';
import { GatewayPipeline, RouteTable, type PipelineState, type ScriptHost, type ScriptHostFactory } from './routing/index.js';

export type { ScriptHostFactory } from './routing/index.js';
import { ThinggateError } from './errors.js';

export interface GatewayOptions {
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Builds the script host for a configuration that names scripts (scripting/). */
  readonly scriptHostFactory?: ScriptHostFactory;
  /** Listeners, strategies and codecs by name: built-ins plus the configured plugins (plugins/loadConfig); default the built-ins. */
  readonly registries?: Registries;
}


export class Gateway {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly devices = new DeviceRegistry();
  readonly guard: Guard;
  private config: GatewayConfig;
  private pipeline?: GatewayPipeline;
  private readonly listeners = new Map<string, { config: ListenerConfig; listener: Listener }>();
  private stopping = false;
  private registries: Registries;

  constructor(
    config: GatewayConfig,
    private readonly options: GatewayOptions,
  ) {
    this.config = config;
    this.logger = options.logger;
    this.metrics = options.metrics ?? new Metrics();
    this.registries = options.registries ?? builtinRegistries();
    this.guard = new Guard(this.logger, this.metrics, { summaryIntervalMs: config.log.securitySummaryIntervalMs });
  }

  get configuration(): GatewayConfig {
    return this.config;
  }

  /** The configured plugins that are loaded, with their versions and contributions (for the admin API). */
  plugins(): readonly LoadedPlugin[] {
    return this.registries.plugins();
  }

  async start(): Promise<void> {
    const state = await this.buildState(this.config);
    this.pipeline = new GatewayPipeline(state, this.devices, this.logger.child({ stage: 'pipeline' }), this.metrics);
    try {
      for (const lc of this.config.listeners) await this.startListener(lc);
    } catch (err) {
      await this.stop({ drain: false });
      throw err;
    }
    this.logger.info({ listeners: this.addresses() }, 'thinggate started');
  }

  /**
   * Applies a new configuration in place. Routes, pools and scripts are built
   * aside and swapped in at once; listeners whose configuration is unchanged
   * keep their connections; changed ones are restarted, new ones started,
   * removed ones drained and stopped.
   */
  async reload(next: GatewayConfig, registries: Registries = this.registries): Promise<void> {
    if (!this.pipeline) throw new ThinggateError('TG_ERR_NOT_STARTED', 'gateway is not running');
    const previousRegistries = this.registries;
    this.registries = registries;
    let state: PipelineState;
    try {
      state = await this.buildState(next, this.pipeline.current.scripts);
    } catch (err) {
      this.registries = previousRegistries;
      throw err;
    }
    if (this.stopping) {
      // Stopped while the new configuration was being built (its scripts compile in their threads): it never takes over.
      await state.balancer.close(0);
      await state.scripts?.close();
      throw new ThinggateError('TG_ERR_NOT_STARTED', 'the gateway stopped before the new configuration took over');
    }
    const old = this.pipeline.swap(state);
    this.guard.configure({ summaryIntervalMs: next.log.securitySummaryIntervalMs });
    const nextNames = new Set(next.listeners.map((l) => l.name));
    for (const [name, entry] of this.listeners) {
      if (!nextNames.has(name)) {
        await entry.listener.stop({ drain: true, timeoutMs: next.shutdown.drainTimeoutMs });
        this.listeners.delete(name);
      }
    }
    for (const lc of next.listeners) {
      const cur = this.listeners.get(lc.name);
      if (cur && JSON.stringify(cur.config) === JSON.stringify(lc)) continue;
      if (cur) {
        this.logger.warn({ listener: lc.name }, 'listener configuration changed: restarting it (its connections are closed)');
        await cur.listener.stop({ drain: true, timeoutMs: next.shutdown.drainTimeoutMs });
        this.listeners.delete(lc.name);
      }
      await this.startListener(lc);
    }
    this.config = next;
    // The old pools finish what is in flight on them, then close.
    void old.balancer.close(next.shutdown.drainTimeoutMs).catch((err: unknown) => this.logger.warn({ err }, 'closing old pools failed'));
    if (old.scripts && old.scripts !== state.scripts) void old.scripts.close();
    this.logger.info({ source: next.source ?? '<embedded default>' }, 'configuration reloaded');
  }

  /** Stops accepting; with `drain`, finishes in-flight messages first (bounded by the drain timeout). */
  async stop(options: { drain?: boolean } = { drain: true }): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const timeoutMs = this.config.shutdown.drainTimeoutMs;
    await Promise.all([...this.listeners.values()].map((e) => e.listener.stop({ drain: options.drain ?? true, timeoutMs })));
    this.listeners.clear();
    if (this.pipeline) {
      const state = this.pipeline.current;
      if (options.drain) await this.pipeline.idle(timeoutMs);
      await state.balancer.close(options.drain ? timeoutMs : 0);
      await state.scripts?.close();
    }
    this.guard.flush();
    this.logger.info('thinggate stopped');
  }

  /** The bound address of a listener by name (tests use port 0). */
  address(name: string): AddressInfo {
    const a = this.listeners.get(name)?.listener.address();
    if (!a) throw new ThinggateError('TG_ERR_NOT_STARTED', `listener '${name}' is not running`);
    return a;
  }

  listener(name: string): Listener | undefined {
    return this.listeners.get(name)?.listener;
  }

  private addresses(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, { listener }] of this.listeners) {
      const a = listener.address();
      if (a) out[name] = `${listener.protocol}://${a.address}:${a.port}`;
    }
    return out;
  }

  private async buildState(config: GatewayConfig, previousScripts?: ScriptHost): Promise<PipelineState> {
    const routes = new RouteTable(config.routes, this.registries.codecResolver(config.baseDir));
    let scripts: ScriptHost | undefined;
    if (routes.scripts().length > 0) {
      if (!this.options.scriptHostFactory) {
        throw new ThinggateError('TG_ERR_CONFIG_INVALID', 'routes name scripts but no script host is available');
      }
      scripts = await this.options.scriptHostFactory(config, this.logger.child({ stage: 'scripting' }), this.metrics, previousScripts);
    }
    const strategies = this.registries.strategies;
    const balancer = createBalancer(config.pools, {
      baseDir: config.baseDir,
      logger: this.logger,
      metrics: this.metrics,
      strategies: (name, options) => {
        const factory = strategies.get(name);
        if (!factory) throw new ThinggateError('TG_ERR_CONFIG_INVALID', `no balancing strategy named '${name}'`);
        return factory.create(options);
      },
    });
    return scripts ? { routes, balancer, scripts } : { routes, balancer };
  }

  private async startListener(config: ListenerConfig): Promise<void> {
    const contribution = this.registries.listeners.get(config.protocol);
    if (!contribution) throw new ThinggateError('TG_ERR_CONFIG_INVALID', `listener '${config.name}': protocol '${config.protocol}' is not available`);
    const options = (config as unknown as Record<string, unknown>)[config.protocol];
    const listener = contribution.create({
      config,
      pipeline: this.pipeline!,
      devices: this.devices,
      logger: this.logger.child({ listener: config.name }),
      metrics: this.metrics,
      guard: this.guard,
      baseDir: this.config.baseDir,
    }, options);
    await listener.start();
    this.listeners.set(config.name, { config, listener });
  }
}

/**
 * The composition root: configuration → stages → start / reload / drain /
 * stop. It is the only module that knows every stage; stages know only the
 * contracts of their neighbours.
 */
import type { Logger } from 'pino';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { GatewayConfig, ListenerConfig } from './config/types.js';
import { createBalancer } from './balancer/index.js';
import { DeviceRegistry, type DeviceMessage } from './devices/registry.js';
import { createDeviceStores, type DeviceStores, type SessionStore } from './state/index.js';
import { deviceMessageCodec } from './devices/wire.js';
import { Guard } from './guard/guard.js';
import type { Listener } from './listeners/index.js';
import { builtinRegistries } from './plugins/builtins.js';
import type { LoadedPlugin, Registries } from './plugins/registry.js';
import { SecurityGate } from './security/gate.js';
import { Metrics } from './observability/metrics.js';
import { GatewayPipeline, RouteTable, type PipelineState, type ScriptHost, type ScriptHostFactory, type ScriptInfo } from './routing/index.js';

export type { ScriptHostFactory } from './routing/index.js';
import { ThinggateError } from './errors.js';
import { EventLog } from './observability/events.js';
import { FailureLog } from './observability/failure-log.js';
import { MessageSampler } from './admin/sampler.js';
import { AdminServer } from './admin/server.js';
import type { AdminContext, BanAdmin, ListenerView, Readiness, RouteView } from './admin/context.js';
import type { AdminRoutes } from './admin/routes.js';
import type { Balancer, PoolStats, UpstreamRequest, UpstreamResult } from './balancer/types.js';
import { reloadServerTls } from './security/tls-server.js';
import { inspectionFor } from './security/inspection.js';
import { MirrorSwitch } from './security/mirror-switch.js';
import { plaintextUpstreamWarnings } from './security/upstream.js';
import { ClusterNode, resolveNodeId } from './cluster/node.js';
import type { ClusterView } from './admin/context.js';
import { CommandService, type CallbackSender } from './devices/commands/service.js';
import { commandResponse } from './devices/commands/responses.js';
import { commandForSession } from './devices/commands/delivery.js';
import { commandRoutes } from './admin/api/commands.js';

export interface GatewayOptions {
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Builds the script host for a configuration that names scripts (scripting/). */
  readonly scriptHostFactory?: ScriptHostFactory;
  /** Listeners, strategies and codecs by name: built-ins plus the configured plugins (plugins/loadConfig); default the built-ins. */
  readonly registries?: Registries;
  /**
   * Reads the configuration again for `POST /api/v1/config/reload` (the CLI passes its file, loading its plugins);
   * without it the API answers 409. A bare configuration keeps the running registries.
   */
  readonly configLoader?: () => GatewayConfig | Promise<{ readonly config: GatewayConfig; readonly registries: Registries }>;
  /** Admin endpoints contributed beyond the built-in ones. */
  readonly adminRoutes?: readonly AdminRoutes[];
}

/** How often a drain reports the messages still in flight. */
const DRAIN_REPORT_MS = 1000;

const NO_BALANCER: UpstreamResult = { kind: 'unavailable', code: 'TG_ERR_POOL_UNKNOWN', reason: 'the balancer is not built yet' };

export class Gateway implements AdminContext {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly devices: DeviceRegistry;
  /** Persistent MQTT sessions: on disk (embedded, `state.durable`), in memory, or in Redis. */
  readonly sessions: SessionStore<DeviceMessage>;
  /** Sessions, retained messages and mailboxes of the configured state backend. */
  private readonly stores: DeviceStores<DeviceMessage>;
  readonly guard: Guard;
  /** Recent security and failure events (admin API, dashboard). */
  readonly events: EventLog;
  readonly sampler = new MessageSampler();
  /** Clients every route mirror copies, switched at run time (admin API). */
  readonly mirror = new MirrorSwitch();
  private admin?: AdminServer;
  private config: GatewayConfig;
  private pipeline?: GatewayPipeline;
  private readonly listeners = new Map<string, { config: ListenerConfig; listener: Listener }>();
  private stopping = false;
  private registries: Registries;
  /** This process among the nodes sharing state (node.id, state backend, presence). */
  readonly node: ClusterNode;
  /** Southbound commands and mailboxes, when the `commands` section is configured. */
  private commands?: CommandService;

  constructor(
    config: GatewayConfig,
    private readonly options: GatewayOptions,
  ) {
    this.config = config;
    const nodeId = resolveNodeId(config);
    this.logger = options.logger.child({ node: nodeId });
    this.metrics = options.metrics ?? new Metrics();
    this.registries = options.registries ?? builtinRegistries();
    const banDir = resolve(config.baseDir, config.guard.stateDir);
    this.stores = createDeviceStores<DeviceMessage>(config.state, {
      codec: deviceMessageCodec,
      durable: config.state.durable ?? true,
      directory: config.state.directory === undefined ? banDir : resolve(config.baseDir, config.state.directory),
      onError: (operation, err) => this.logger.warn({ operation, err: err.message }, `state: ${operation} failed`),
      nodeId,
    });
    this.sessions = this.stores.sessions;
    this.devices = new DeviceRegistry(this.stores.retained);
    this.node = new ClusterNode({
      config,
      nodeId,
      banDir,
      logger: this.logger,
      metrics: this.metrics,
      devices: this.devices,
      deliverLocal: (s, m) => {
        const l = this.listeners.get(s.listener)?.listener;
        const message = l && commandForSession(m, l.protocol, this.devices, s.clientId);
        return message !== undefined && l!.deliver(s.clientId, message);
      },
      closeLocal: (s, reason) => void this.listeners.get(s.listener)?.listener.closeConnection?.(s.clientId, reason),
      info: () => {
        const admin = this.admin?.url();
        return { pid: process.pid, ...(admin !== undefined && { admin }) };
      },
    });
    this.guard = new Guard(this.logger, this.metrics, {
      summaryIntervalMs: config.log.securitySummaryIntervalMs,
      config: config.guard,
      stateDir: banDir,
      banStore: this.node.state.bans,
      ...(config.state.backend === 'redis' && { sharedCounters: this.node.state.counters }),
      load: () => ({ connections: this.openConnections(), inflight: this.pipeline?.inflightCount ?? 0 }),
    });
    this.events = new EventLog(config.admin?.eventBuffer ?? 500);
    this.guard.onEvent((e) => this.events.push({ category: 'security', ...e }));
  }

  /** The admin API's view of the guard's bans (operator bans are sourced 'api'). */
  readonly bans: BanAdmin = {
    list: () => this.guard.bans.list(),
    add: (ban) => this.guard.ban(ban, 'api'),
    remove: (id) => this.guard.bans.remove(id),
  };

  /** The admin API's view of the nodes sharing state. */
  readonly cluster: ClusterView = {
    id: () => this.node.id,
    backend: () => this.config.state.backend,
    nodes: () => this.node.nodes(),
  };

  get configuration(): GatewayConfig {
    return this.config;
  }

  /** The configured plugins that are loaded, with their versions and contributions (for the admin API). */
  plugins(): readonly LoadedPlugin[] {
    return this.registries.plugins();
  }

  async start(): Promise<void> {
    const state = await this.buildState(this.config);
    const pipelineLog = this.logger.child({ stage: 'pipeline' });
    this.pipeline = new GatewayPipeline(state, this.devices, pipelineLog, this.metrics);
    const pipeline = this.pipeline;
    pipeline.exposeUpstreamDetails(this.config.log.upstreamDetailsToDevices);
    const failures = new FailureLog(pipelineLog, this.events, {
      perSecond: () => this.config.log.failuresPerSecond,
      routeOf: (env) => pipeline.current.routes.find(env)?.name,
    });
    pipeline.observe((env, outcome) => {
      this.sampler.record(env, outcome);
      failures.record(env, outcome);
    });
    try {
      // Before the listeners: sessions and retained messages a previous process left are back before any device is.
      if (!(await this.stores.open())) this.logger.warn('state: Redis did not answer at start: sessions, retained messages and mailboxes fail until it does');
      await this.node.start();
      // Before the listeners: devices that connect at once find their mailboxes.
      if (this.config.commands) this.commands = await this.startCommands(this.config.commands, pipeline);
      for (const lc of this.config.listeners) await this.startListener(lc);
      const ac = this.config.admin;
      if (ac?.enabled) {
        this.metrics.collectProcessMetrics();
        const routes = [...(this.options.adminRoutes ?? []), ...(this.commands ? [commandRoutes(this.commands)] : [])];
        const admin = new AdminServer({ config: ac, context: this, routes });
        await admin.start();
        this.admin = admin;
      }
    } catch (err) {
      await this.stop({ drain: false, quiet: true });
      throw err;
    }
    this.logStart();
  }

  /** The admin server's address, when it runs. */
  adminAddress(): AddressInfo | null {
    return this.admin?.address() ?? null;
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
      state.security?.close();
      throw new ThinggateError('TG_ERR_NOT_STARTED', 'the gateway stopped before the new configuration took over');
    }
    const old = this.pipeline.swap(state);
    this.guard.configure({ summaryIntervalMs: next.log.securitySummaryIntervalMs, config: next.guard });
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
    if ((next.commands === undefined) !== (this.config.commands === undefined) || next.commands?.directory !== this.config.commands?.directory) {
      this.logger.warn('the commands section was added, removed or moved to another directory: that takes effect when thinggate restarts');
    }
    if (JSON.stringify(next.admin) !== JSON.stringify(this.config.admin)) {
      this.logger.warn({ admin: this.admin?.url() ?? null }, 'the admin section changed: it takes effect when thinggate restarts');
    }
    for (const section of ['state', 'node', 'workers'] as const) {
      if (JSON.stringify(next[section]) !== JSON.stringify(this.config[section])) {
        this.logger.warn({ section }, `the ${section} section changed: it takes effect when thinggate restarts`);
      }
    }
    this.config = next;
    this.pipeline.exposeUpstreamDetails(next.log.upstreamDetailsToDevices);
    // Listeners kept as they were re-read their certificates, keys, CAs and CRLs (a bad file keeps the running set).
    reloadServerTls();
    // The old pools finish what is in flight on them, then close.
    void old.balancer.close(next.shutdown.drainTimeoutMs).catch((err: unknown) => this.logger.warn({ err }, 'closing old pools failed'));
    if (old.scripts && old.scripts !== state.scripts) void old.scripts.close().catch((err: unknown) => this.logger.warn({ err }, 'closing old scripts failed'));
    old.security?.close();
    this.logger.info({ source: next.source ?? '<embedded default>' }, 'configuration reloaded');
  }

  /** Stops accepting; with `drain`, finishes in-flight messages first (bounded by the drain timeout). */
  async stop(options: { drain?: boolean; quiet?: boolean } = { drain: true }): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const timeoutMs = this.config.shutdown.drainTimeoutMs;
    const progress = options.drain ? this.reportDrain() : undefined;
    await Promise.all([...this.listeners.values()].map((e) => e.listener.stop({ drain: options.drain ?? true, timeoutMs, final: true })));
    this.listeners.clear();
    // Before the stores close: messages still in the pipeline (Wills, publications toward devices, command
    // responses) write to them.
    if (options.drain) await this.pipeline?.idle(timeoutMs);
    await this.commands?.stop();
    // After the listeners: the sessions their connections parked are written.
    await this.stores.close().catch((err: unknown) => this.logger.warn({ err }, 'closing the device stores failed'));
    if (this.pipeline) {
      const state = this.pipeline.current;
      await state.balancer.close(options.drain ? timeoutMs : 0);
      await state.scripts?.close();
      state.security?.close();
    }
    this.guard.flush();
    this.guard.close();
    // After the listeners: the devices' presence entries go with this node.
    await this.node.stop().catch((err: unknown) => this.logger.warn({ err }, 'leaving the shared state failed'));
    if (progress) clearInterval(progress);
    // Last, so /readyz answers 503 (draining) until the end.
    await this.admin?.stop();
    // A gateway that never started does not report "stopped" (the caller reports the failure).
    if (!options.quiet) this.logger.info('thinggate stopped');
  }

  /** Logs the messages still in flight now and every second while the drain lasts. */
  private reportDrain(interval = DRAIN_REPORT_MS): NodeJS.Timeout {
    const report = (): void => {
      const inflight = this.pipeline?.inflightCount ?? 0;
      this.logger.info({ inflight }, `draining: ${inflight} message${inflight === 1 ? '' : 's'} in flight`);
    };
    report();
    return setInterval(report, interval).unref();
  }

  /** Device connections open now over every listener (guard.overload.connections). */
  private openConnections(): number {
    let n = 0;
    for (const { listener } of this.listeners.values()) n += listener.stats().connections;
    return n;
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

  readiness(): Readiness {
    const reasons: string[] = [];
    if (!this.pipeline) reasons.push('not started');
    if (this.stopping) reasons.push('draining: shutting down');
    for (const lc of this.config.listeners) {
      if (!this.listeners.get(lc.name)?.listener.address()) reasons.push(`listener '${lc.name}' is not bound`);
    }
    const needed = new Set(this.config.routes.map((r) => r.pool).filter((p): p is string => p !== undefined));
    for (const p of this.poolStats()) {
      if (!needed.has(p.name)) continue;
      if (!p.endpoints.some((e) => e.state === 'healthy' && !e.drained)) reasons.push(`pool '${p.name}' has no healthy endpoint`);
    }
    return { ready: reasons.length === 0, reasons };
  }

  listenerViews(): ListenerView[] {
    return [...this.listeners.values()].map(({ listener }) => ({
      name: listener.name,
      protocol: listener.protocol,
      address: listener.address(),
      stats: () => listener.stats(),
      ...(listener.listConnections && { connections: () => listener.listConnections!() }),
      ...(listener.closeConnection && { closeConnection: (id: string, reason: string) => listener.closeConnection!(id, reason) }),
    }));
  }

  poolStats(): PoolStats[] {
    return this.pipeline?.current.balancer.stats() ?? [];
  }

  setEndpointDrained(pool: string, url: string, drained: boolean): boolean | undefined {
    return this.pipeline?.current.balancer.setDrained(pool, url, drained);
  }

  routeViews(): RouteView[] {
    const hits = this.pipeline?.current.routes.hits() ?? [];
    return this.config.routes.map((r, index) => ({
      index,
      name: r.name ?? `routes[${index}]`,
      match: r.match,
      ...(r.pool !== undefined && { pool: r.pool }),
      ...(r.script !== undefined && { script: r.script }),
      ...(r.target !== undefined && { target: r.target }),
      hits: hits[index] ?? 0,
    }));
  }

  scriptViews(): ScriptInfo[] {
    return this.pipeline?.current.scripts?.inspect?.() ?? [];
  }

  async reloadScript(script: string): Promise<ScriptInfo | undefined> {
    return this.pipeline?.current.scripts?.reloadScript?.(script);
  }

  async reloadConfiguration(): Promise<void> {
    if (!this.options.configLoader) throw new ThinggateError('TG_ERR_NOT_STARTED', 'running on the embedded default: there is no file to reload');
    const next = await this.options.configLoader();
    if ('registries' in next) await this.reload(next.config, next.registries);
    else await this.reload(next);
  }

  /** Opens the mailbox and starts the command service; command responses are taken from the pipeline. */
  private async startCommands(config: NonNullable<GatewayConfig['commands']>, pipeline: GatewayPipeline): Promise<CommandService> {
    const callback: CallbackSender = async (pool, path, body, command) => {
      const r = await pipeline.current.balancer.dispatch({
        pool,
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json' },
        body,
        idempotencyKey: `${command.id}-${command.state}`,
        key: command.clientId,
      });
      if (r.kind === 'spooled') return { ok: true, detail: 'spooled' };
      if (r.kind === 'response') return { ok: r.status >= 200 && r.status < 300, detail: `status ${r.status}` };
      return { ok: false, detail: r.reason };
    };
    const service = new CommandService({
      store: this.stores.mailbox(resolve(this.config.baseDir, config.directory), (err) =>
        this.logger.error({ err, stage: 'commands' }, 'mailbox write failed'),
      ),
      config: () => this.config.commands ?? config,
      devices: this.devices,
      listener: (name) => this.listeners.get(name)?.listener,
      remote: this.node.joined ? this.node : undefined,
      callback,
      event: (e) => this.events.push(e),
      metrics: this.metrics,
      logger: this.logger.child({ stage: 'commands' }),
    });
    await service.start();
    pipeline.connectCommands(
      (env) => commandResponse(env, this.config.commands ?? config, service),
      (clientId, body) => service.submit(clientId, body),
    );
    return service;
  }

  /** The start-up report: each listener's URL with its real scheme, the configuration, the pools and the admin address. */
  private logStart(): void {
    const listeners: Record<string, string> = {};
    for (const [name, { config, listener }] of this.listeners) {
      const a = listener.address();
      if (!a) continue;
      listeners[name] =
        `${schemeOf(config)}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}${config.protocol === 'mqtt-ws' ? config.mqtt.wsPath : ''}`;
      this.logger.info({ listener: name, url: listeners[name] }, `listening: ${name} on ${listeners[name]}`);
    }
    const pools: Record<string, string[]> = {};
    for (const p of this.config.pools) {
      pools[p.name] = p.endpoints.map((e) => e.url);
      this.logger.info({ pool: p.name, strategy: p.strategy, endpoints: pools[p.name] }, `pool ${p.name}: ${pools[p.name]!.join(', ')}`);
    }
    const admin = this.admin?.url();
    if (admin) this.logger.info({ admin }, `admin: dashboard, API and /metrics at ${admin}`);
    const config = this.config.source ?? '<embedded default>';
    this.logger.info({ config, listeners, pools, ...(admin && { admin }) }, 'thinggate started');
  }

  private async buildState(config: GatewayConfig, previousScripts?: ScriptHost): Promise<PipelineState> {
    for (const w of plaintextUpstreamWarnings(config)) this.logger.warn({ event: 'plaintext-upstream' }, w);
    // Mirror pools go through this state's balancer, built below (after the routes it serves).
    let mirrorBalancer: Balancer | undefined;
    const inspection = {
      baseDir: config.baseDir,
      guard: this.guard,
      metrics: this.metrics,
      logger: this.logger,
      clients: this.mirror,
      dispatch: (r: UpstreamRequest) => mirrorBalancer?.dispatch(r) ?? Promise.resolve(NO_BALANCER),
    };
    const routes = new RouteTable(config.routes, this.registries.codecResolver(config.baseDir), (route, index) => inspectionFor(route, index, inspection));
    let scripts: ScriptHost | undefined;
    if (routes.scripts().length > 0) {
      if (!this.options.scriptHostFactory) {
        throw new ThinggateError('TG_ERR_CONFIG_INVALID', 'routes name scripts but no script host is available');
      }
      const state = this.node.state;
      scripts = await this.options.scriptHostFactory(config, this.logger.child({ stage: 'scripting' }), this.metrics, previousScripts, {
        ...(state.backend === 'redis' && { sharedState: state.scriptState }),
      });
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
    mirrorBalancer = balancer;
    let security: SecurityGate;
    try {
      security = new SecurityGate(config, {
        logger: this.logger.child({ stage: 'security' }),
        report: (e) => this.guard.report(e),
        dispatch: (r) => balancer.dispatch(r),
        authenticators: this.registries.authenticators,
      });
    } catch (err) {
      await balancer.close(0);
      await scripts?.close();
      throw err;
    }
    return scripts ? { routes, balancer, scripts, security } : { routes, balancer, security };
  }

  private async startListener(config: ListenerConfig): Promise<void> {
    const contribution = this.registries.listeners.get(config.protocol);
    if (!contribution) throw new ThinggateError('TG_ERR_CONFIG_INVALID', `listener '${config.name}': protocol '${config.protocol}' is not available`);
    const options = (config as unknown as Record<string, unknown>)[config.protocol];
    const listener = contribution.create(
      {
        config,
        pipeline: this.pipeline!,
        devices: this.devices,
        sessions: this.sessions,
        logger: this.logger.child({ listener: config.name }),
        metrics: this.metrics,
        guard: this.guard,
        baseDir: this.config.baseDir,
      },
      options,
    );
    await listener.start();
    this.listeners.set(config.name, { config, listener });
  }
}

/** The URL scheme a client uses for a listener: TLS shows (mqtts, wss, amqps, https). */
function schemeOf(config: ListenerConfig): string {
  const tls = config.tls !== undefined;
  switch (config.protocol) {
    case 'mqtt':
      return tls ? 'mqtts' : 'mqtt';
    case 'mqtt-ws':
      return tls ? 'wss' : 'ws';
    case 'amqp':
      return tls ? 'amqps' : 'amqp';
    case 'http':
      return tls ? 'https' : 'http';
    default:
      return config.protocol;
  }
}

/**
 * This process as one node among several: its name (`node.id`), the state
 * backend it shares with the others (`state`), and the device registry
 * joined to theirs (devices/cluster.ts). The composition root builds one
 * per gateway. A Redis outage is logged once per change with a warning and
 * counted (`thinggate_state_errors_total`, `thinggate_state_up`); the node
 * carries on degraded (docs/scaling.md, "Redis outage").
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import type { Metrics } from '../observability/metrics.js';
import { createState, type NodeInfo, type State } from '../state/index.js';
import { DeviceCluster, type Placement } from '../devices/cluster.js';
import type { DeviceMessage, DeviceRegistry, Subscriber } from '../devices/registry.js';

/** `node.id`, else THINGGATE_NODE_ID (a worker's name from its primary), else `<hostname>-<pid>`. */
export function resolveNodeId(config: GatewayConfig, env: NodeJS.ProcessEnv = process.env): string {
  return config.node.id ?? env.THINGGATE_NODE_ID ?? `${hostname()}-${process.pid}`;
}

export interface NodeOptions {
  readonly config: GatewayConfig;
  readonly nodeId: string;
  readonly banDir: string;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly devices: DeviceRegistry;
  readonly deliverLocal: (subscriber: Subscriber, message: DeviceMessage) => boolean;
  readonly closeLocal: (subscriber: Subscriber, reason: string) => void;
  /** Said with each heartbeat (the admin URL once it is known). */
  readonly info: () => Readonly<Record<string, string | number>>;
}

export class ClusterNode {
  readonly id: string;
  readonly state: State;
  private readonly devices: DeviceCluster;
  private readonly logger: Logger;

  constructor(options: NodeOptions) {
    const { config, metrics } = options;
    this.id = options.nodeId;
    this.logger = options.logger.child({ stage: 'state' });
    const errors = metrics.counter('thinggate_state_errors_total', 'Shared-state operations that failed (the node carried on degraded), by operation', [
      'operation',
    ]);
    const up = metrics.gauge('thinggate_state_up', '1 while the shared state backend is reachable (always 1 when embedded)');
    up.set(1);
    metrics
      .gauge('thinggate_node_info', 'This node: its id and state backend (value 1)', ['node', 'backend'])
      .set({ node: this.id, backend: config.state.backend }, 1);
    let lastErrorLog = 0;
    let wasDown = false;
    this.state = createState(config.state, {
      nodeId: this.id,
      banDir: options.banDir,
      onError: (operation, err) => {
        errors.inc({ operation });
        // One line a second at most: an outage fails every operation.
        if (Date.now() - lastErrorLog < 1000) return;
        lastErrorLog = Date.now();
        this.logger.warn({ operation, err: err.message }, `state: ${operation} failed: serving locally (degraded)`);
      },
      onStatus: (reachable) => {
        up.set(reachable ? 1 : 0);
        if (!reachable) {
          wasDown = true;
          this.logger.warn({ backend: 'redis' }, 'state: Redis unreachable: degraded mode (new connections served locally; reconnecting)');
          return;
        }
        this.logger.info({ backend: 'redis' }, 'state: Redis reachable: presence, bus and bans are shared');
        // Back after an outage: Redis may have restarted empty, so this node's devices are claimed again.
        if (wasDown) void this.devices.reclaim();
      },
    });
    this.devices = new DeviceCluster({
      registry: options.devices,
      presence: this.state.presence,
      bus: this.state.bus,
      heartbeatMs: config.state.heartbeatMs,
      info: options.info,
      deliverLocal: options.deliverLocal,
      closeLocal: options.closeLocal,
      onEvent: (event, fields) => this.logger.info({ event, ...fields }, `state: ${event} ${String(fields.clientId)}`),
    });
  }

  /** Connects to the shared state (without waiting for Redis longer than a few seconds) and joins the other nodes. */
  async start(): Promise<void> {
    if (this.state.backend === 'redis' && !(await this.state.start())) {
      this.logger.warn('state: Redis did not answer at start: degraded mode until it does');
    }
    await this.devices.start(this.state.backend === 'redis');
  }

  async stop(): Promise<void> {
    await this.devices.stop();
    await this.state.close();
  }

  /** Live nodes, from presence heartbeats. */
  nodes(): Promise<NodeInfo[]> {
    return this.state.presence.nodes();
  }

  /** The node holding `clientId`, or undefined when none does. */
  holder(clientId: string): Promise<string | undefined> {
    return this.devices.holder(clientId);
  }

  /** True when the registry is joined to other nodes' (the redis backend). */
  get joined(): boolean {
    return this.state.backend === 'redis';
  }

  /** Delivers to one device on whichever node holds it. */
  deliver(clientId: string, message: DeviceMessage): Promise<Placement> {
    return this.devices.deliver(clientId, message);
  }

  /** Tells `node` that a command it queued became final here. */
  notifyFinal(node: string, id: string): Promise<boolean> {
    return this.devices.notifyFinal(node, id);
  }

  /** What to do when another node made final a command this node queued. */
  onFinal(handler: (id: string) => void): void {
    this.devices.onFinal(handler);
  }

  /** Asks `node`, which holds the device's session, to drain its shared mailbox. */
  drainOn(node: string, clientId: string): Promise<boolean> {
    return this.devices.drainOn(node, clientId);
  }

  /** What to do when another node asks this one to drain a device's mailbox. */
  onDrain(handler: (clientId: string) => void): void {
    this.devices.onDrain(handler);
  }
}

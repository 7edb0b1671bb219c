/**
 * The command service: back-ends' commands and notifications toward
 * devices. It checks a command, queues it durably in the device's mailbox,
 * delivers it when the device is reachable (delivery.ts), matches the
 * device's response (responses.ts), expires what outlives its TTL, and
 * reports every state change as an event, a metric and — for `async`
 * commands — a callback to the configured pool.
 */
import type { Logger } from 'pino';
import type { CommandsConfig } from '../../config/types.js';
import { newId } from '../../envelope/ids.js';
import { ThinggateError } from '../../errors.js';
import type { EventInput } from '../../observability/events.js';
import type { Metrics } from '../../observability/metrics.js';
import { isFinal, type CommandRecord, type EnqueueResult, type CommandResponse, type MailboxStore } from '../../state/mailbox.js';
import { matchesClientPattern } from '../../config/sections/commands.js';
import type { DeviceRegistry } from '../registry.js';
import { MailboxDelivery, type DeliveryPort, type RemoteDevices } from './delivery.js';
import { fillTemplate, parseCommand } from './request.js';
import { commandView } from './view.js';

/** Sends one callback request to a pool; resolves to whether the pool took it (2xx or spooled). */
export type CallbackSender = (pool: string, path: string, body: Buffer, command: CommandRecord) => Promise<{ ok: boolean; detail: string }>;

export interface CommandServiceDeps {
  readonly store: MailboxStore;
  readonly config: () => CommandsConfig;
  readonly devices: DeviceRegistry;
  readonly listener: (name: string) => DeliveryPort | undefined;
  /** Devices connected to other nodes (nodes sharing state). */
  readonly remote?: RemoteDevices | undefined;
  readonly callback: CallbackSender;
  readonly event: (e: EventInput) => void;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly now?: () => number;
}

/** The result of a submission: the queued record, and for `sync` the wait for its outcome. */
export interface Submitted {
  readonly record: CommandRecord;
  readonly timeoutMs: number;
}

const STATES_METRIC = 'thinggate_downstream_commands_total';
const QUEUED_METRIC = 'thinggate_downstream_mailbox_messages';
const BYTES_METRIC = 'thinggate_downstream_mailbox_bytes';
/** Finished records are purged at most this often (a purge reads every record). */
const PURGE_INTERVAL_MS = 60_000;

export class CommandService {
  private readonly delivery: MailboxDelivery;
  private readonly waiters = new Map<string, Set<(r: CommandRecord) => void>>();
  private readonly now: () => number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private lastPurge = 0;
  private unsubscribe: (() => void) | undefined;
  private readonly states;

  constructor(private readonly deps: CommandServiceDeps) {
    this.now = deps.now ?? Date.now;
    this.delivery = new MailboxDelivery({
      store: deps.store,
      devices: deps.devices,
      listener: deps.listener,
      now: this.now,
      changed: (r) => this.changed(r),
      remote: deps.remote,
      failed: (err, what) => deps.logger.warn({ err, ...what }, `mailbox: ${what.operation} failed`),
    });
    this.states = deps.metrics.counter(STATES_METRIC, 'Southbound commands entering each state', ['state']);
    deps.metrics.gauge(QUEUED_METRIC, 'Commands in mailboxes (queued or sent), all devices');
    deps.metrics.gauge(BYTES_METRIC, 'Payload bytes in mailboxes (queued or sent), all devices');
  }

  /** Opens the mailbox, requeues what a previous process had sent unacknowledged, and delivers to the devices connected now. */
  async start(): Promise<void> {
    try {
      await this.deps.store.open();
    } catch (err) {
      throw new ThinggateError('TG_ERR_MAILBOX_UNAVAILABLE', `the mailbox at '${this.deps.config().directory}' cannot be opened: ${(err as Error).message}`, {
        cause: err,
      });
    }
    // A shared mailbox (Redis) that does not answer yet must not keep the gateway from starting:
    // what was sent stays sent until it expires or a sweep requeues it.
    await this.requeue().catch((err: unknown) => this.deps.logger.warn({ err }, 'mailbox: requeuing sent commands failed'));
    this.deps.remote?.onFinal?.((id) => void this.finalElsewhere(id));
    this.deps.remote?.onDrain?.((clientId) => this.delivery.kick(clientId));
    this.unsubscribe = this.deps.devices.onReachable((clientId) => {
      void this.deps.store.rememberDevice(clientId).catch((err: unknown) => this.deps.logger.warn({ err, clientId }, 'mailbox: remembering the device failed'));
      this.delivery.kick(clientId);
    });
    for (const s of this.deps.devices.sessions()) this.delivery.kick(s.clientId);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    await this.deps.store.close();
  }

  /** Checks and durably queues a command; throws a ThinggateError with the API status when it cannot. */
  async submit(clientId: string, body: unknown): Promise<Submitted> {
    const config = this.deps.config();
    const now = this.now();
    const parsed = parseCommand(body, clientId, newId(now), now, config);
    const node = this.deps.remote?.id;
    const { timeoutMs } = parsed;
    const command = node === undefined ? parsed.command : { ...parsed.command, queuedBy: node };
    if (!(await this.knows(clientId, config))) {
      throw new ThinggateError(
        'TG_ERR_COMMAND_DEVICE_UNKNOWN',
        `device '${clientId}' is not connected, never connected, and matches no commands.unseenDevices pattern`,
        { status: 404 },
      );
    }
    let result: EnqueueResult;
    try {
      result = await this.deps.store.enqueue(command, config.limits);
    } catch (err) {
      this.deps.logger.error({ err, clientId }, 'mailbox write failed');
      throw new ThinggateError('TG_ERR_MAILBOX_UNAVAILABLE', 'the mailbox could not be written; nothing was queued', { status: 503, cause: err });
    }
    if (!result.ok) {
      const { limit, max } = result.full;
      this.states.inc({ state: 'refused' });
      throw Object.assign(
        new ThinggateError('TG_ERR_MAILBOX_FULL', `mailbox full: ${limit} limit ${max} reached; nothing was queued`, {
          status: limit === 'total-messages' ? 507 : 429,
        }),
        { limit, max },
      );
    }
    this.changed(result.record);
    this.delivery.kick(clientId);
    return { record: result.record, timeoutMs };
  }

  /** Resolves to the record once it is final or `timeoutMs` passed (then with its state at that moment). */
  waitFinal(record: CommandRecord, timeoutMs: number): Promise<CommandRecord> {
    return new Promise<CommandRecord>((resolve) => {
      let set = this.waiters.get(record.id);
      if (!set) this.waiters.set(record.id, (set = new Set()));
      const done = (r: CommandRecord): void => {
        clearTimeout(timer);
        set!.delete(done);
        if (set!.size === 0 && this.waiters.get(record.id) === set) this.waiters.delete(record.id);
        resolve(r);
      };
      // A mailbox that fails to answer still ends the wait, with the state last seen.
      const read = (): Promise<CommandRecord> =>
        this.deps.store.get(record.id).then(
          (r) => r ?? record,
          (err: unknown) => {
            this.deps.logger.warn({ err, clientId: record.clientId, commandId: record.id }, 'mailbox: reading the command failed');
            return record;
          },
        );
      const timer = setTimeout(() => void read().then(done), timeoutMs);
      set.add(done);
      // Read once the waiter is registered: a change (here, or word from another node) between the two is not missed.
      void read().then((r) => isFinal(r) && done(r));
    });
  }

  async get(clientId: string, id: string): Promise<CommandRecord | undefined> {
    const r = await this.deps.store.get(id);
    return r?.clientId === clientId ? r : undefined;
  }

  list(clientId: string, limit: number): Promise<CommandRecord[]> {
    return this.deps.store.list(clientId, limit);
  }

  /** Cancels a queued command; resolves to the record (its state tells whether it was cancelled) or undefined when unknown. */
  async cancel(clientId: string, id: string): Promise<CommandRecord | undefined> {
    const r = await this.get(clientId, id);
    if (!r) return undefined;
    const next = await this.deps.store.transition(id, 'cancelled', { at: this.now(), reason: 'cancelled through the API' });
    if (!next) return (await this.deps.store.get(id)) ?? r;
    this.changed(next);
    return next;
  }

  /**
   * Records a device's response to one of its own commands; false when `id`
   * is no command of `clientId` waiting for a response.
   */
  async respond(clientId: string, id: string, response: CommandResponse): Promise<boolean> {
    const r = await this.deps.store.get(id);
    if (!r || r.clientId !== clientId || r.response === 'none') return false;
    const next = await this.deps.store.transition(id, 'responded', { at: this.now(), deviceResponse: response });
    if (!next) return false;
    this.changed(next);
    return true;
  }

  /**
   * Moves `sent` commands nobody awaits back to queued. Alone (embedded),
   * that is every one: no session survives a restart. On a shared mailbox,
   * only those sent by a node whose heartbeat lapsed, or by this node (an
   * earlier process under the same id, or a settlement the store failed to
   * take): another live node's deliveries are left to it.
   */
  private async requeue(): Promise<void> {
    const { store, remote } = this.deps;
    const self = remote?.id;
    let devices: string[];
    if (!store.requeueUnawaited || !remote?.nodes || self === undefined) devices = await store.requeueSent(this.now());
    else {
      const live = new Set((await remote.nodes()).map((n) => n.id));
      const awaited = (r: CommandRecord): boolean => r.sentBy !== undefined && (r.sentBy === self ? this.delivery.awaits(r.id) : live.has(r.sentBy));
      devices = await store.requeueUnawaited(this.now(), awaited);
    }
    for (const clientId of devices) this.delivery.kick(clientId);
  }

  /** Another node made a command of this node's API final (the device answered there): its waiters get the record. */
  private async finalElsewhere(id: string): Promise<void> {
    if (!this.waiters.has(id)) return;
    const r = await this.deps.store.get(id).catch(() => undefined);
    if (r && isFinal(r)) for (const w of [...(this.waiters.get(id) ?? [])]) w(r);
  }

  /** True when a device may be commanded: connected now, seen before, or allowed by a pattern. */
  private async knows(clientId: string, config: CommandsConfig): Promise<boolean> {
    if (this.deps.devices.lookup(clientId)) return true;
    if (matchesClientPattern(config.unseenDevices, clientId)) return true;
    if (await this.deps.store.knowsDevice(clientId)) return true;
    return this.deps.remote !== undefined && (await this.deps.remote.holder(clientId).catch(() => undefined)) !== undefined;
  }

  /** A state change: event, metric, waiters, and for async commands the callback. */
  private changed(r: CommandRecord): void {
    this.states.inc({ state: r.state });
    this.deps.event({
      category: 'command',
      kind: r.state,
      clientId: r.clientId,
      commandId: r.id,
      detail: `command ${r.id} ${r.state}${r.reason !== undefined ? `: ${r.reason}` : ''}`,
    });
    if (!isFinal(r)) return;
    const waiting = this.waiters.get(r.id);
    if (waiting) for (const w of [...waiting]) w(r);
    // A `sync` caller may wait on the node whose API queued it.
    const { remote } = this.deps;
    if (r.response === 'sync' && r.queuedBy !== undefined && r.queuedBy !== remote?.id) void remote?.notifyFinal?.(r.queuedBy, r.id).catch(() => false);
    if (r.response === 'async') void this.sendCallback(r);
  }

  private async sendCallback(r: CommandRecord): Promise<void> {
    const config = this.deps.config();
    if (config.callbackPool === undefined) return;
    const body = Buffer.from(JSON.stringify(commandView(r)), 'utf8');
    const result = await this.deps
      .callback(config.callbackPool, fillTemplate(config.callbackPath, encodeURIComponent(r.clientId), r.id), body, r)
      .catch((err: unknown) => ({
        ok: false,
        detail: (err as Error).message,
      }));
    if (!result.ok) {
      this.deps.logger.warn({ commandId: r.id, clientId: r.clientId, detail: result.detail }, 'command callback failed');
      this.deps.event({
        category: 'command',
        kind: 'callback-failed',
        clientId: r.clientId,
        commandId: r.id,
        detail: `callback for command ${r.id} failed: ${result.detail}`,
      });
    }
  }

  /** The periodic sweep: expiry, purge of old records, retries for connected devices, gauges. */
  private schedule(): void {
    this.sweepTimer = setTimeout(() => {
      void this.sweep().finally(() => {
        if (this.sweepTimer) this.schedule();
      });
    }, this.deps.config().sweepIntervalMs);
    this.sweepTimer.unref();
  }

  /** One sweep (exposed for tests that inject time). */
  async sweep(): Promise<void> {
    const { store } = this.deps;
    const now = this.now();
    try {
      for (const r of await store.expire(now)) this.changed(r);
      if (now - this.lastPurge >= PURGE_INTERVAL_MS) {
        this.lastPurge = now;
        await store.purge(now - this.deps.config().retentionMs);
        if (this.deps.remote) await this.requeue();
      }
      // A device on another node costs one presence lookup per sweep while it has commands queued here.
      for (const clientId of await store.devicesWithQueued()) if (this.deps.remote || this.deps.devices.lookup(clientId)) this.delivery.kick(clientId);
      const usage = await store.usage();
      this.deps.metrics.gauge(QUEUED_METRIC, '').set(usage.messages);
      this.deps.metrics.gauge(BYTES_METRIC, '').set(usage.bytes);
    } catch (err) {
      this.deps.logger.warn({ err }, 'mailbox sweep failed');
    }
  }
}

/**
 * The mailbox contract: per-device ordered queues of commands and
 * notifications toward devices, bounded per device (messages and bytes) and
 * in total, each with a TTL, and the record of every command's states with
 * their timestamps. The embedded implementation (embedded/mailbox.ts) keeps
 * it in LevelDB; a Redis one runs the same contract tests
 * (test/helpers/state-contracts/mailbox.ts).
 *
 * A command occupies its device's mailbox (counts against the bounds) while
 * it is `queued` or `sent`; once delivered it waits only for its response
 * and its record stays readable until the store purges it.
 */

/** queued → sent → delivered → responded, or expired / cancelled / failed (with a reason). */
export type CommandState = 'queued' | 'sent' | 'delivered' | 'responded' | 'expired' | 'cancelled' | 'failed';

export type ResponseMode = 'none' | 'sync' | 'async';

/** The device's answer to a command. */
export interface CommandResponse {
  /** A status the device gave (MQTT 5 user property `status`, CoAP code, HTTP query), 200 when it gave none. */
  readonly status: number;
  /** Base64 of the payload bytes. */
  readonly payload: string;
  readonly contentType?: string;
}

export interface CommandRecord {
  /** Unique, time-sortable id (also the correlation id toward the device). */
  readonly id: string;
  readonly clientId: string;
  /** Topic / address the command is delivered on. */
  readonly address: string;
  /** Base64 of the payload bytes. */
  readonly payload: string;
  readonly contentType?: string;
  readonly qos: 0 | 1 | 2;
  readonly response: ResponseMode;
  /** Where the device answers (MQTT 5 Response Topic, AMQP reply-to). */
  readonly replyTo?: string;
  /** Bytes the command counts against the mailbox bounds. */
  readonly size: number;
  /** Milliseconds since the epoch after which the command is expired unless final. */
  readonly expiresAt: number;
  readonly state: CommandState;
  /** Milliseconds since the epoch at which each state was entered. */
  readonly timestamps: Readonly<Partial<Record<CommandState, number>>>;
  /** Why it failed, expired or was cancelled; why the last delivery attempt did not succeed. */
  readonly reason?: string;
  readonly deviceResponse?: CommandResponse;
  /** Delivery attempts so far. */
  readonly attempts: number;
  /** The node whose API queued it (nodes sharing a mailbox: where a `sync` caller waits for it). */
  readonly queuedBy?: string;
  /** The node that claimed it for its last delivery attempt (set by a move to `sent` that names one). */
  readonly sentBy?: string;
}

/** The new record without its state fields, as given to `enqueue`. */
export type NewCommand = Omit<CommandRecord, 'state' | 'timestamps' | 'attempts' | 'reason' | 'deviceResponse' | 'sentBy'> & { readonly createdAt: number };

export interface MailboxLimits {
  /** Commands queued or sent per device at most. */
  readonly maxMessagesPerDevice: number;
  /** Payload bytes queued or sent per device at most. */
  readonly maxBytesPerDevice: number;
  /** Commands queued or sent across every device at most. */
  readonly maxMessagesTotal: number;
}

/** Which bound refused a command, and its value. */
export type MailboxFull = { readonly limit: 'device-messages' | 'device-bytes' | 'total-messages'; readonly max: number };

export type EnqueueResult = { readonly ok: true; readonly record: CommandRecord } | { readonly ok: false; readonly full: MailboxFull };

export interface TransitionOptions {
  readonly at: number;
  readonly reason?: string;
  readonly deviceResponse?: CommandResponse;
  /**
   * With `sent`: the node claiming the command for a delivery attempt,
   * recorded as `sentBy` (a shared mailbox requeues only a dead node's sends).
   */
  readonly node?: string;
}

/** Final states: nothing moves a command out of them. */
export const FINAL_STATES: ReadonlySet<CommandState> = new Set(['responded', 'expired', 'cancelled', 'failed']);

/** True when nothing more happens to a command: a final state, or delivered when no response is expected. */
export function isFinal(r: Pick<CommandRecord, 'state' | 'response'>): boolean {
  return FINAL_STATES.has(r.state) || (r.state === 'delivered' && r.response === 'none');
}

/** States in which a command occupies its mailbox. */
export const OCCUPYING_STATES: ReadonlySet<CommandState> = new Set(['queued', 'sent']);

const ALLOWED: Readonly<Record<CommandState, readonly CommandState[]>> = {
  // sent → queued: the session ended before the device acknowledged; it is delivered again.
  queued: ['sent', 'expired', 'cancelled', 'failed'],
  sent: ['queued', 'delivered', 'responded', 'expired', 'failed'],
  delivered: ['responded', 'expired', 'failed'],
  responded: [],
  expired: [],
  cancelled: [],
  failed: [],
};

/** True when the contract allows moving a command from `from` to `to`. */
export function canTransition(from: CommandState, to: CommandState): boolean {
  return ALLOWED[from].includes(to);
}

/** The record after a transition (callers check `canTransition` first). */
export function applyTransition(r: CommandRecord, to: CommandState, o: TransitionOptions): CommandRecord {
  const { reason: _r, sentBy: _s, ...rest } = r;
  const sentBy = to === 'sent' ? o.node : r.sentBy;
  return {
    ...rest,
    ...(sentBy !== undefined && { sentBy }),
    state: to,
    timestamps: { ...r.timestamps, [to]: o.at },
    attempts: to === 'sent' ? r.attempts + 1 : r.attempts,
    ...(o.reason !== undefined && { reason: o.reason }),
    ...(o.deviceResponse !== undefined && { deviceResponse: o.deviceResponse }),
  };
}

export interface MailboxStore {
  /** Opens the store (recovers what a previous process left). */
  open(): Promise<void>;
  close(): Promise<void>;
  /** Durably appends a command at the end of its device's queue; refuses it when a bound would be exceeded. */
  enqueue(command: NewCommand, limits: MailboxLimits): Promise<EnqueueResult>;
  get(id: string): Promise<CommandRecord | undefined>;
  /** A device's commands, oldest first, at most `limit`. */
  list(clientId: string, limit: number): Promise<CommandRecord[]>;
  /** A device's queued commands in queue order, at most `limit`; reflects every transition asked for before the call. */
  queued(clientId: string, limit: number): Promise<CommandRecord[]>;
  /**
   * Moves a command to `to` when the contract allows it from its current
   * state; resolves to the new record, or undefined (unknown id, or not
   * allowed: the caller reads the record to see why). It is atomic: of
   * callers racing to move one command (nodes sharing the mailbox) exactly
   * one gets the record. A move queued → sent is how delivery claims a
   * command before it hands it to a device, so one node sends it.
   */
  transition(id: string, to: CommandState, options: TransitionOptions): Promise<CommandRecord | undefined>;
  /** Moves every non-final command whose `expiresAt` is at or before `now` to expired; resolves to them. */
  expire(now: number): Promise<CommandRecord[]>;
  /** Moves every `sent` command back to queued (no session survived a restart); resolves to the client ids concerned. */
  requeueSent(at: number): Promise<string[]>;
  /**
   * For a mailbox nodes share: moves back to queued only the `sent`
   * commands no one awaits the settlement of (`awaited` false: their sender
   * `sentBy` died, or is this node and no longer tracks them), so a node's
   * start or sweep never requeues what a live node is delivering. Resolves
   * to the client ids concerned.
   */
  requeueUnawaited?(at: number, awaited: (r: CommandRecord) => boolean): Promise<string[]>;
  /** Deletes finished commands (see `isFinal`) whose last state is older than `before`; resolves to how many. */
  purge(before: number): Promise<number>;
  /** Client ids with queued commands. */
  devicesWithQueued(): Promise<string[]>;
  /** Records that a device was seen (it connected once), for `commands.unknownDevices: seen`. */
  rememberDevice(clientId: string): Promise<void>;
  knowsDevice(clientId: string): Promise<boolean>;
  /** Occupancy now: commands queued or sent, and their bytes. */
  usage(clientId?: string): Promise<{ readonly messages: number; readonly bytes: number }>;
}

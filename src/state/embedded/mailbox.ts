/**
 * The embedded MailboxStore: one LevelDB database (classic-level) in a
 * directory. Keys:
 *   r␀<id>                → the command record (JSON)
 *   q␀<clientId>␀<seq>    → id, for commands occupying the mailbox, in queue order
 *   h␀<clientId>␀<id>     → '' for every command of a device (its history)
 *   d␀<clientId>          → '' for every device seen
 * Live (non-final) records, each device's queue and the occupancy are kept in
 * memory (rebuilt on open): reads, bounds checks, transitions and the expiry
 * sweep touch no disk. Every write joins a group commit: the changes that
 * arrive in one event-loop turn, or while the previous batch is being
 * written, go to disk as one batch, with one fsync when anything in it
 * waits for durability.
 * What is durable when:
 * - an enqueue resolves only once its batch is fsync'd, so a `kill -9` loses
 *   nothing the API acknowledged as queued;
 * - a cancellation resolves once fsync'd too (a cancelled command must not
 *   be delivered after a restart);
 * - other transitions resolve at once and reach disk with the next batch. A
 *   crash may lose the last of them, which only ever redelivers: the record
 *   on disk is then in an earlier state, sent is requeued at start
 *   (`requeueSent`), and a command past its deadline is expired again.
 */
import { ClassicLevel } from 'classic-level';
import {
  applyTransition,
  canTransition,
  isFinal,
  OCCUPYING_STATES,
  type CommandRecord,
  type CommandState,
  type EnqueueResult,
  type MailboxLimits,
  type MailboxStore,
  type NewCommand,
  type TransitionOptions,
} from '../mailbox.js';
import { GroupCommit, type Op } from './group-commit.js';

const SEP = '\u0000';
const recordKey = (id: string): string => `r${SEP}${id}`;
const queuePrefix = (clientId: string): string => `q${SEP}${clientId}${SEP}`;
const historyKey = (clientId: string, id: string): string => `h${SEP}${clientId}${SEP}${id}`;
const deviceKey = (clientId: string): string => `d${SEP}${clientId}`;
/** Upper bound of a key range: every key that starts with `prefix`. */
const after = (prefix: string): string => `${prefix}\uffff`;

interface Live {
  record: CommandRecord;
  /** Its queue entry's key while it occupies the mailbox. */
  queueKey: string | undefined;
}

interface Usage {
  messages: number;
  bytes: number;
}

export interface EmbeddedMailboxOptions {
  /** A batch failed to be written (enqueues and cancellations in it are refused; other transitions in it are lost). */
  readonly onWriteError?: (err: Error) => void;
}

export class EmbeddedMailboxStore implements MailboxStore {
  private readonly db: ClassicLevel<string, string>;
  /** Non-final commands by id. */
  private readonly live = new Map<string, Live>();
  /** Each device's commands occupying its mailbox, in queue order. */
  private readonly queues = new Map<string, Map<string, Live>>();
  private readonly perDevice = new Map<string, Usage>();
  private readonly total: Usage = { messages: 0, bytes: 0 };
  private readonly known = new Set<string>();
  private seq = 0;
  /** fsync'd only for a batch an enqueue, a cancellation or close waits for; a later fsync'd batch makes earlier ones durable too. */
  private readonly writes: GroupCommit;

  constructor(
    readonly directory: string,
    options: EmbeddedMailboxOptions = {},
  ) {
    this.db = new ClassicLevel<string, string>(directory, { valueEncoding: 'utf8', keyEncoding: 'utf8' });
    this.writes = new GroupCommit(this.db, { sync: 'waited', ...(options.onWriteError && { onWriteError: options.onWriteError }) });
  }

  async open(): Promise<void> {
    await this.db.open({ createIfMissing: true });
    for await (const [k, v] of this.db.iterator({ gte: `r${SEP}`, lt: after(`r${SEP}`) })) {
      const r = parse(v);
      if (!r) {
        await this.db.del(k);
        continue;
      }
      if (!isFinal(r)) this.live.set(r.id, { record: r, queueKey: undefined });
    }
    // Keys sort by device, then sequence: each device's queue is rebuilt in order.
    for await (const [k, id] of this.db.iterator({ gte: `q${SEP}`, lt: after(`q${SEP}`) })) {
      const n = Number.parseInt(k.slice(k.lastIndexOf(SEP) + 1), 36);
      if (n > this.seq) this.seq = n;
      const l = this.live.get(id);
      if (!l || !OCCUPYING_STATES.has(l.record.state)) {
        await this.db.del(k); // a queue entry whose command moved on (its removal was not written before a crash)
        continue;
      }
      l.queueKey = k;
      this.occupy(l.record, 1);
      this.join(l);
    }
    for await (const k of this.db.keys({ gte: `d${SEP}`, lt: after(`d${SEP}`) })) this.known.add(k.slice(2));
  }

  async close(): Promise<void> {
    await this.writes.write([]);
    await this.writes.close();
  }

  /** Bounds are checked and the room reserved at once; resolves once the command is on disk (fsync'd). */
  enqueue(command: NewCommand, limits: MailboxLimits): Promise<EnqueueResult> {
    const device = this.perDevice.get(command.clientId) ?? { messages: 0, bytes: 0 };
    if (device.messages + 1 > limits.maxMessagesPerDevice)
      return Promise.resolve({ ok: false, full: { limit: 'device-messages', max: limits.maxMessagesPerDevice } });
    if (device.bytes + command.size > limits.maxBytesPerDevice)
      return Promise.resolve({ ok: false, full: { limit: 'device-bytes', max: limits.maxBytesPerDevice } });
    if (this.total.messages + 1 > limits.maxMessagesTotal)
      return Promise.resolve({ ok: false, full: { limit: 'total-messages', max: limits.maxMessagesTotal } });
    const { createdAt, ...rest } = command;
    const record: CommandRecord = { ...rest, state: 'queued', timestamps: { queued: createdAt }, attempts: 0 };
    const queueKey = `${queuePrefix(command.clientId)}${(++this.seq).toString(36).padStart(11, '0')}`;
    const l: Live = { record, queueKey };
    this.occupy(record, 1);
    const ops: Op[] = [
      { type: 'put', key: recordKey(record.id), value: JSON.stringify(record) },
      { type: 'put', key: queueKey, value: record.id },
      { type: 'put', key: historyKey(record.clientId, record.id), value: '' },
    ];
    return this.writes.write(ops).then(
      () => {
        // Live (visible to `queued`, `transition`) only once durable, and in commit order: the device's queue order.
        this.live.set(record.id, l);
        this.join(l);
        return { ok: true, record };
      },
      (err: unknown) => {
        this.occupy(record, -1);
        throw err;
      },
    );
  }

  async get(id: string): Promise<CommandRecord | undefined> {
    const r = this.live.get(id)?.record;
    if (r) return r;
    // A record that turned final is no longer live; until its batch is written, the disk has an older one.
    const op = this.writes.pending(recordKey(id));
    if (op) return op.type === 'put' ? parse(op.value) : undefined;
    return parse(await this.db.get(recordKey(id)));
  }

  async list(clientId: string, limit: number): Promise<CommandRecord[]> {
    const out: CommandRecord[] = [];
    const prefix = historyKey(clientId, '');
    for await (const k of this.db.keys({ gte: prefix, lt: after(prefix), limit })) {
      const r = await this.get(k.slice(prefix.length));
      if (r) out.push(r);
    }
    return out;
  }

  async queued(clientId: string, limit: number): Promise<CommandRecord[]> {
    const out: CommandRecord[] = [];
    for (const l of this.queues.get(clientId)?.values() ?? []) {
      if (out.length >= limit) break;
      if (l.record.state === 'queued') out.push(l.record);
    }
    return out;
  }

  /** Applied in memory at once, in call order; a cancellation resolves once it is on disk. */
  transition(id: string, to: CommandState, options: TransitionOptions): Promise<CommandRecord | undefined> {
    const l = this.live.get(id);
    if (!l || !canTransition(l.record.state, to)) return Promise.resolve(undefined);
    const next = this.change(l, applyTransition(l.record, to, options));
    if (to !== 'cancelled') return Promise.resolve(next);
    return this.writes.write([]).then(() => next);
  }

  async expire(now: number): Promise<CommandRecord[]> {
    const out: CommandRecord[] = [];
    for (const l of [...this.live.values()]) {
      if (l.record.expiresAt > now) continue;
      const reason = l.record.state === 'delivered' ? 'no response before the command expired' : 'not delivered before the command expired';
      out.push(this.change(l, applyTransition(l.record, 'expired', { at: now, reason })));
    }
    return out;
  }

  async requeueSent(at: number): Promise<string[]> {
    const devices = new Set<string>();
    for (const l of [...this.live.values()]) {
      if (l.record.state !== 'sent') continue;
      this.change(l, applyTransition(l.record, 'queued', { at, reason: 'the gateway restarted before the device acknowledged it' }));
      devices.add(l.record.clientId);
    }
    return [...devices];
  }

  async purge(before: number): Promise<number> {
    await this.writes.idle();
    const doomed: CommandRecord[] = [];
    for await (const v of this.db.values({ gte: `r${SEP}`, lt: after(`r${SEP}`) })) {
      const r = parse(v);
      if (r && isFinal(r) && (r.timestamps[r.state] ?? 0) < before) doomed.push(r);
    }
    await this.writes.write(
      doomed.flatMap((r): Op[] => [
        { type: 'del', key: recordKey(r.id) },
        { type: 'del', key: historyKey(r.clientId, r.id) },
      ]),
    );
    return doomed.length;
  }

  async devicesWithQueued(): Promise<string[]> {
    const out: string[] = [];
    for (const [clientId, q] of this.queues)
      for (const l of q.values())
        if (l.record.state === 'queued') {
          out.push(clientId);
          break;
        }
    return out;
  }

  async rememberDevice(clientId: string): Promise<void> {
    if (this.known.has(clientId)) return;
    this.known.add(clientId);
    this.put(deviceKey(clientId), '');
  }

  async knowsDevice(clientId: string): Promise<boolean> {
    return this.known.has(clientId);
  }

  async usage(clientId?: string): Promise<{ messages: number; bytes: number }> {
    const u = clientId === undefined ? this.total : this.perDevice.get(clientId);
    return { messages: u?.messages ?? 0, bytes: u?.bytes ?? 0 };
  }

  /** A live command's new record: in memory now, on disk with the next batch; its queue entry goes once it stops occupying. */
  private change(l: Live, next: CommandRecord): CommandRecord {
    l.record = next;
    this.put(recordKey(next.id), JSON.stringify(next));
    if (l.queueKey !== undefined && !OCCUPYING_STATES.has(next.state)) {
      this.writes.queue([{ type: 'del', key: l.queueKey }]);
      l.queueKey = undefined;
      this.occupy(next, -1);
      const q = this.queues.get(next.clientId);
      q?.delete(next.id);
      if (q?.size === 0) this.queues.delete(next.clientId);
    }
    if (isFinal(next)) this.live.delete(next.id);
    return next;
  }

  private join(l: Live): void {
    let q = this.queues.get(l.record.clientId);
    if (!q) this.queues.set(l.record.clientId, (q = new Map()));
    q.set(l.record.id, l);
  }

  private occupy(r: CommandRecord, sign: 1 | -1): void {
    let u = this.perDevice.get(r.clientId);
    if (!u) this.perDevice.set(r.clientId, (u = { messages: 0, bytes: 0 }));
    u.messages += sign;
    u.bytes += sign * r.size;
    this.total.messages += sign;
    this.total.bytes += sign * r.size;
    if (u.messages === 0) this.perDevice.delete(r.clientId);
  }

  /** Joins the next batch; nothing waits for it. */
  private put(key: string, value: string): void {
    this.writes.queue([{ type: 'put', key, value }]);
  }
}

function parse(v: string | undefined): CommandRecord | undefined {
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v) as CommandRecord;
  } catch {
    return undefined;
  }
}

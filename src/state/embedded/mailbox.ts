/**
 * The embedded MailboxStore: one LevelDB database (classic-level) in a
 * directory. Keys:
 *   r␀<id>                → the command record (JSON)
 *   q␀<clientId>␀<seq>    → id, for commands occupying the mailbox, in queue order
 *   h␀<clientId>␀<id>     → '' for every command of a device (its history)
 *   d␀<clientId>          → '' for every device seen
 * A command is acknowledged as queued only once its record and queue entry
 * are written with fsync (group-committed: one fsync per batch of the
 * enqueues that arrived meanwhile), so a `kill -9` loses nothing the API
 * accepted.
 * Occupancy and deadlines of live commands are kept in memory (rebuilt on
 * open) so the bounds are checked and the expiry sweep runs without reads.
 * Operations run one at a time (the store is one process's).
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

const SEP = '\u0000';
const recordKey = (id: string): string => `r${SEP}${id}`;
const queuePrefix = (clientId: string): string => `q${SEP}${clientId}${SEP}`;
const historyKey = (clientId: string, id: string): string => `h${SEP}${clientId}${SEP}${id}`;
const deviceKey = (clientId: string): string => `d${SEP}${clientId}`;
/** Upper bound of a key range: every key that starts with `prefix`. */
const after = (prefix: string): string => `${prefix}\uffff`;

interface Live {
  readonly clientId: string;
  /** Its queue entry's key while it occupies the mailbox. */
  queueKey: string | undefined;
  readonly size: number;
  state: CommandState;
  readonly expiresAt: number;
}

type Op = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

interface Usage {
  messages: number;
  bytes: number;
}

export class EmbeddedMailboxStore implements MailboxStore {
  private readonly db: ClassicLevel<string, string>;
  /** Non-final commands by id. */
  private readonly live = new Map<string, Live>();
  private readonly perDevice = new Map<string, Usage>();
  private readonly total: Usage = { messages: 0, bytes: 0 };
  private readonly known = new Set<string>();
  private seq = 0;
  private chain: Promise<unknown> = Promise.resolve();
  /** Enqueues waiting for the next group commit. */
  private group: Array<{ readonly ops: Op[]; readonly done: (err?: Error) => void }> = [];
  private committing = false;

  constructor(readonly directory: string) {
    this.db = new ClassicLevel<string, string>(directory, { valueEncoding: 'utf8', keyEncoding: 'utf8' });
  }

  async open(): Promise<void> {
    await this.db.open({ createIfMissing: true });
    for await (const [k, v] of this.db.iterator({ gte: `r${SEP}`, lt: after(`r${SEP}`) })) {
      const r = parse(v);
      if (!r) {
        await this.db.del(k);
        continue;
      }
      if (!isFinal(r)) this.live.set(r.id, { clientId: r.clientId, queueKey: undefined, size: r.size, state: r.state, expiresAt: r.expiresAt });
    }
    for await (const [k, id] of this.db.iterator({ gte: `q${SEP}`, lt: after(`q${SEP}`) })) {
      const n = Number.parseInt(k.slice(k.lastIndexOf(SEP) + 1), 36);
      if (n > this.seq) this.seq = n;
      const l = this.live.get(id);
      if (!l || !OCCUPYING_STATES.has(l.state)) {
        await this.db.del(k); // a queue entry whose command moved on (its removal was not written before a crash)
        continue;
      }
      l.queueKey = k;
      this.occupy(l, 1);
    }
    for await (const k of this.db.keys({ gte: `d${SEP}`, lt: after(`d${SEP}`) })) this.known.add(k.slice(2));
  }

  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
    while (this.committing) await new Promise((r) => setImmediate(r));
    if (this.db.status === 'open') await this.db.close();
  }

  /**
   * Bounds are checked and the room reserved at once; the write joins the
   * next group commit (one fsync'd batch for every enqueue that arrives
   * while the previous batch is being written).
   */
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
    const l: Live = { clientId: record.clientId, queueKey, size: record.size, state: 'queued', expiresAt: record.expiresAt };
    this.occupy(l, 1);
    return new Promise<EnqueueResult>((resolve, reject) => {
      this.group.push({
        ops: [
          { type: 'put', key: recordKey(record.id), value: JSON.stringify(record) },
          { type: 'put', key: queueKey, value: record.id },
          { type: 'put', key: historyKey(record.clientId, record.id), value: '' },
        ],
        done: (err) => {
          if (err) {
            this.occupy(l, -1);
            reject(err);
            return;
          }
          this.live.set(record.id, l);
          resolve({ ok: true, record });
        },
      });
      if (!this.committing) void this.commit();
    });
  }

  private async commit(): Promise<void> {
    this.committing = true;
    try {
      while (this.group.length > 0) {
        const group = this.group;
        this.group = [];
        try {
          await this.db.batch(
            group.flatMap((g) => g.ops),
            { sync: true },
          );
          for (const g of group) g.done();
        } catch (err) {
          for (const g of group) g.done(err as Error);
        }
      }
    } finally {
      this.committing = false;
    }
  }

  async get(id: string): Promise<CommandRecord | undefined> {
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

  /** In line with the writes: a command whose move to `sent` was asked for before this call is not returned. */
  queued(clientId: string, limit: number): Promise<CommandRecord[]> {
    return this.serial(async () => {
      const out: CommandRecord[] = [];
      const prefix = queuePrefix(clientId);
      for await (const id of this.db.values({ gte: prefix, lt: after(prefix) })) {
        if (this.live.get(id)?.state !== 'queued') continue;
        const r = await this.get(id);
        if (r?.state === 'queued') out.push(r);
        if (out.length >= limit) break;
      }
      return out;
    });
  }

  transition(id: string, to: CommandState, options: TransitionOptions): Promise<CommandRecord | undefined> {
    return this.serial(async () => {
      const l = this.live.get(id);
      if (!l || !canTransition(l.state, to)) return undefined;
      const current = await this.get(id);
      if (!current) return undefined;
      const next = applyTransition(current, to, options);
      await this.write(next, l, to === 'cancelled');
      return next;
    });
  }

  expire(now: number): Promise<CommandRecord[]> {
    return this.serial(async () => {
      const out: CommandRecord[] = [];
      for (const [id, l] of [...this.live]) {
        if (l.expiresAt > now) continue;
        const current = await this.get(id);
        if (!current) continue;
        const reason = l.state === 'delivered' ? 'no response before the command expired' : 'not delivered before the command expired';
        const next = applyTransition(current, 'expired', { at: now, reason });
        await this.write(next, l, false);
        out.push(next);
      }
      return out;
    });
  }

  requeueSent(at: number): Promise<string[]> {
    return this.serial(async () => {
      const devices = new Set<string>();
      for (const [id, l] of [...this.live]) {
        if (l.state !== 'sent') continue;
        const current = await this.get(id);
        if (!current) continue;
        await this.write(applyTransition(current, 'queued', { at, reason: 'the gateway restarted before the device acknowledged it' }), l, false);
        devices.add(l.clientId);
      }
      return [...devices];
    });
  }

  purge(before: number): Promise<number> {
    return this.serial(async () => {
      const doomed: CommandRecord[] = [];
      for await (const v of this.db.values({ gte: `r${SEP}`, lt: after(`r${SEP}`) })) {
        const r = parse(v);
        if (r && isFinal(r) && (r.timestamps[r.state] ?? 0) < before) doomed.push(r);
      }
      if (doomed.length > 0) {
        await this.db.batch(
          doomed.flatMap((r) => [
            { type: 'del' as const, key: recordKey(r.id) },
            { type: 'del' as const, key: historyKey(r.clientId, r.id) },
          ]),
        );
      }
      return doomed.length;
    });
  }

  async devicesWithQueued(): Promise<string[]> {
    const out = new Set<string>();
    for (const l of this.live.values()) if (l.state === 'queued') out.add(l.clientId);
    return [...out];
  }

  async rememberDevice(clientId: string): Promise<void> {
    if (this.known.has(clientId)) return;
    this.known.add(clientId);
    await this.db.put(deviceKey(clientId), '');
  }

  async knowsDevice(clientId: string): Promise<boolean> {
    return this.known.has(clientId);
  }

  async usage(clientId?: string): Promise<{ messages: number; bytes: number }> {
    const u = clientId === undefined ? this.total : this.perDevice.get(clientId);
    return { messages: u?.messages ?? 0, bytes: u?.bytes ?? 0 };
  }

  /** Writes a record's new state, and drops its queue entry when it stops occupying the mailbox. */
  private async write(next: CommandRecord, l: Live, sync: boolean): Promise<void> {
    const leaves = l.queueKey !== undefined && !OCCUPYING_STATES.has(next.state);
    const ops: Op[] = [{ type: 'put', key: recordKey(next.id), value: JSON.stringify(next) }];
    if (leaves) ops.push({ type: 'del', key: l.queueKey! });
    await this.db.batch(ops, { sync });
    l.state = next.state;
    if (leaves) {
      this.occupy(l, -1);
      l.queueKey = undefined;
    }
    if (isFinal(next)) this.live.delete(next.id);
  }

  private occupy(l: Live, sign: 1 | -1): void {
    let u = this.perDevice.get(l.clientId);
    if (!u) this.perDevice.set(l.clientId, (u = { messages: 0, bytes: 0 }));
    u.messages += sign;
    u.bytes += sign * l.size;
    this.total.messages += sign;
    this.total.bytes += sign * l.size;
    if (u.messages === 0) this.perDevice.delete(l.clientId);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
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

/**
 * One script file as the gateway runs it: its place on a script thread (which
 * owns its isolates and `ctx.state`), its current compiled version, the queue of
 * messages waiting for it (handed to the thread in batches), its log limiter,
 * per-device throttle and file watch (file-watch.ts). Swapping versions is one assignment,
 * so every batch runs wholly on one version; a version being replaced is kept
 * until late `onResponse` calls of messages it handled have had time to finish.
 */
import { readFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { basename } from 'node:path';
import type { Logger } from 'pino';
import type { Envelope, Reply } from '../envelope/index.js';
import type { Admission, ClientInfo } from '../envelope/index.js';
import type { ScriptResponse, ScriptResult } from '../routing/script-host.js';
import type { Counter, Metrics } from '../observability/metrics.js';
import type { ScriptsConfig } from '../config/types.js';
import { toBytes, type Decision } from '../routing/decision.js';
import { IdleWaiters } from '../util/idle-waiters.js';
import type { Bins, CallOutcome } from './version.js';
import type { RemoteVersion, ScriptThread, ScriptThreads } from './thread.js';
import type { BatchOutcome, MessageResult } from './protocol.js';
import { ClientThrottle, Suspension, TokenBucket, type Sender } from './limiter.js';
import { ScriptFileWatch } from './file-watch.js';
import type { SharedReplica, SharedScriptState } from './shared-state.js';
import type { StateLimits } from './state-store.js';
import { InvalidDecision, validateDecisions, validateOne } from './validate.js';
import { batchWire, clientWire, envelopeWire, ownBytes, payloadsOf, responseWire } from './wire.js';
import { SCRIPT_CODES, ScriptCompileError, failure, scriptLine, type ScriptCode, type ScriptFailure } from './errors.js';

export interface UnitOptions {
  /** The path as written in the route; names the script in logs and metrics. */
  readonly name: string;
  readonly absPath: string;
  readonly config: ScriptsConfig;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The threads scripts run on; the unit is placed on one of them. */
  readonly threads: ScriptThreads;
  /** Injected clock (tests). */
  readonly now?: () => number;
  /** How long a replaced version stays available to late `onResponse` calls. */
  readonly retireAfterMs?: number;
  /** Shared `ctx.state` (the redis backend); without it each node keeps its own. */
  readonly shared?: SharedScriptState;
}

interface Pending {
  readonly env: Envelope;
  readonly resolve: (r: ScriptResult) => void;
}

const DEFAULT_RETIRE_MS = 30_000;
/** Batches a unit keeps in its thread at once: one running, one ready to start the moment it ends. */
const BATCHES_IN_FLIGHT = 2;

/** Events of a unit: 'swapped' (new RemoteVersion), 'refused' (Error), 'rebuilt' (RemoteVersion). */
export class ScriptUnit {
  readonly events = new EventEmitter();
  readonly name: string;
  readonly absPath: string;
  /** Hosts holding this unit (a reload's new host shares unchanged units with the old one). */
  private holds = 0;
  private readonly thread: ScriptThread;
  /** This unit's key on its thread. */
  private readonly key: number;
  private current!: RemoteVersion;
  /** Batches sent to the thread and not yet answered. */
  private inFlight = 0;
  private readonly drained = new IdleWaiters(() => this.inFlight === 0);
  private config: ScriptsConfig;
  private queue: Pending[] = [];
  private scheduled = false;
  private waited = 0;
  /** Queue length when the flush last decided to wait. */
  private seen = 0;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly logBucket: TokenBucket;
  private readonly errorLogBucket: TokenBucket;
  private readonly throttle: ClientThrottle;
  private readonly suspension: Suspension;
  private readonly versionOf = new WeakMap<Envelope, RemoteVersion>();
  private readonly retired = new Map<RemoteVersion, NodeJS.Timeout>();
  private readonly errors: Counter<'script' | 'code'>;
  private readonly messages: Counter<'script'>;
  private readonly reloads: Counter<'script' | 'result'>;
  private readonly logDropped: Counter<'script'>;
  private readonly fileWatch: ScriptFileWatch;
  /** Counts reloads begun; a compile that finishes after a later one began is dropped. */
  private reloadSeq = 0;
  /** The reload begun last (admin reloads wait for it). */
  private latestReload: Promise<void> = Promise.resolve();
  /** A rebuild under way (see rebuild). */
  private rebuilding: Promise<void> | undefined;
  private closed = false;
  /** This script's part in the shared `ctx.state`, while it is shared. */
  private replica: SharedReplica | undefined;
  private lastRefusal: string | undefined;

  /** Places the script on a script thread, reads and compiles the file; rejects with ScriptCompileError. */
  static async create(options: UnitOptions): Promise<ScriptUnit> {
    const unit = new ScriptUnit(options);
    try {
      unit.current = await unit.thread.compile(unit.key, unit.name, unit.absPath, readScript(unit.name, unit.absPath), unit.config);
    } catch (err) {
      await options.threads.release(unit.thread, unit.key);
      throw err;
    }
    unit.fileWatch.enable(unit.config.watch);
    return unit;
  }

  private constructor(private readonly options: UnitOptions) {
    this.name = options.name;
    this.absPath = options.absPath;
    this.config = options.config;
    this.logger = options.logger.child({ script: options.name });
    this.now = options.now ?? Date.now;
    this.logBucket = new TokenBucket(options.config.log.perSecond, options.config.log.burst, this.now);
    this.errorLogBucket = new TokenBucket(options.config.log.perSecond, options.config.log.burst, this.now);
    this.throttle = new ClientThrottle(options.config.throttle, this.now);
    this.suspension = new Suspension(options.config.suspend, this.now);
    const m = options.metrics;
    this.errors = m.counter('thinggate_script_errors_total', 'Script calls that failed, by script and code', ['script', 'code']);
    this.messages = m.counter('thinggate_script_messages_total', 'Messages handed to a script', ['script']);
    this.reloads = m.counter('thinggate_script_reloads_total', 'Script versions swapped in or refused, and isolates rebuilt', ['script', 'result']);
    this.logDropped = m.counter('thinggate_script_log_dropped_total', 'Script log lines dropped by the rate limit', ['script']);
    const state = this.stateLimits(options.config);
    const placed = options.threads.place(state, {
      log: (level, text) => this.scriptLog(level, text),
      lost: (err) => {
        // Its isolates and ctx.state went with it; the current version is rebuilt on the next message.
        if (!this.replica) this.logger.error({ err }, 'script thread stopped; starting a new one (ctx.state is lost)');
        else {
          this.logger.error({ err }, 'script thread stopped; starting a new one (ctx.state reloads from the shared store)');
          this.replica.reload();
        }
      },
      stateChanges: (writes, evicted) => this.replica?.write(writes, evicted),
    });
    this.thread = placed.thread;
    this.key = placed.unit;
    this.share(state);
    this.fileWatch = new ScriptFileWatch(
      options.absPath,
      () => this.config.debounceMs,
      () => void this.reload(false),
      this.logger,
    );
    this.events.on('refused', (err: unknown) => (this.lastRefusal = err instanceof Error ? err.message : String(err)));
    this.events.on('swapped', () => (this.lastRefusal = undefined));
  }

  /** `ctx.state` bounds, and whether the store is this node's replica of state shared through the state backend. */
  private stateLimits(config: ScriptsConfig): StateLimits {
    return { ...config.state, shared: this.options.shared !== undefined && config.state.shared !== false };
  }

  /** Joins (or leaves) the shared `ctx.state` as the limits say; a replica that joins loads the stored entries. */
  private share(limits: StateLimits): void {
    const on = limits.shared === true;
    if (on && !this.replica) {
      const thread = this.thread;
      const unit = this.key;
      this.replica = this.options.shared!.join(this.name, {
        apply: (changes) => thread.post({ op: 'state-apply', unit, changes }),
        ack: (keys) => thread.post({ op: 'state-ack', unit, keys }),
        load: (entries, keep) => thread.post({ op: 'state-load', unit, entries, keep }),
      });
    } else if (!on && this.replica) {
      this.replica.leave();
      this.replica = undefined;
    }
  }

  /** Why the last reload was refused, until a later version is swapped in (admin API). */
  get compileError(): string | undefined {
    return this.lastRefusal;
  }

  /**
   * Re-reads the file now (admin API); a version that does not compile is
   * refused like any reload. Resolves once the latest reload has finished: a
   * file-watch reload that began meanwhile supersedes this one, and its
   * outcome is the one {@link compileError} reports.
   */
  async reloadFile(): Promise<void> {
    let done = this.reload(false);
    await done;
    while (this.latestReload !== done) {
      done = this.latestReload;
      await done;
    }
  }

  get version(): RemoteVersion {
    return this.current;
  }

  get hasOnConnect(): boolean {
    return this.current.hasOnConnect;
  }

  /**
   * Applies a (re)loaded configuration and re-reads the file. A changed file
   * or changed isolate limits compile a new version aside, swapped in before
   * this resolves; if that fails the running version stays and the error is
   * logged. The running version serves meanwhile.
   */
  async refresh(config: ScriptsConfig): Promise<void> {
    const was = this.config;
    const limitsChanged =
      config.memoryMb !== was.memoryMb ||
      config.timeoutMs !== was.timeoutMs ||
      config.maxDecisionBytes !== was.maxDecisionBytes ||
      config.maxBatchDecisionBytes !== was.maxBatchDecisionBytes;
    this.config = config;
    const state = this.stateLimits(config);
    this.thread.configureState(this.key, state);
    this.share(state);
    this.throttle.configure(config.throttle);
    this.suspension.configure(config.suspend);
    this.fileWatch.enable(config.watch);
    await this.reload(limitsChanged);
  }

  /** Queues one message; batches are run from `setImmediate`, so messages arriving in one I/O turn share one call. */
  onMessage(env: Envelope): Promise<ScriptResult> {
    if (this.closed) return Promise.resolve(failure(SCRIPT_CODES.threw, `script '${this.name}' is no longer loaded`));
    const suspended = this.suspension.left();
    if (suspended > 0) return Promise.resolve(this.suspendedFailure(suspended));
    const blocked = this.throttle.tracking ? this.throttle.blocked(senderOf(env)) : undefined;
    if (blocked) {
      this.errors.inc({ script: this.name, code: SCRIPT_CODES.throttled });
      const who = blocked.by === 'client' ? `client '${env.source.clientId}'` : `address ${env.source.remoteAddress}`;
      return Promise.resolve(failure(SCRIPT_CODES.throttled, `${who} is throttled for ${Math.ceil(blocked.ms / 1000)} s after repeated script failures`));
    }
    return new Promise((resolve) => {
      this.queue.push({ env, resolve });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  /** Runs `onResponse` on the version that handled the message (if it exports one). */
  async onResponse(res: ScriptResponse, env: Envelope): Promise<Reply | ScriptFailure | undefined> {
    let v = this.versionOf.get(env);
    if (!v?.alive) v = await this.live();
    if (!v.hasOnResponse) return undefined;
    const out = await v.response(responseWire(res), envelopeWire(env), ownBytes(env.payload), this.now());
    const who = senderOf(env);
    const r = this.single(out, v, who, env.id, 'onResponse');
    if (!r.ok) return r;
    if (r.value === null) return undefined;
    try {
      const d = validateOne(r.value, r.bins, v.limits.maxDecisionBytes);
      if (d.action === 'reply') {
        const { bytes, contentType } = toBytes(d.payload);
        const ct = d.contentType ?? contentType;
        return { payload: bytes, status: d.code ?? 200, ...(ct !== undefined && { contentType: ct }) };
      }
      if (d.action === 'reject') return { payload: Buffer.from(d.reason, 'utf8'), status: d.code ?? 400, contentType: 'text/plain; charset=utf-8' };
      return this.fail(SCRIPT_CODES.invalid, 'onResponse must return reply(...), reject(...) or nothing', who, env.id);
    } catch (err) {
      return this.fail(SCRIPT_CODES.invalid, (err as Error).message, who, env.id);
    }
  }

  /** Runs `onConnect`; undefined when the script does not export it. */
  async onConnect(client: ClientInfo): Promise<Admission | undefined> {
    const v = await this.live();
    if (!v.hasOnConnect) return undefined;
    const r = this.single(await v.connect(clientWire(client), this.now()), v, client, undefined, 'onConnect');
    if (!r.ok) return { ok: false, status: 503, reason: `admission script failed (${r.code})` };
    const d = r.value as { action: string; reason?: string; code?: number; principal?: string; attributes?: Record<string, string> };
    if (d.action === 'reject') return { ok: false, status: d.code === 401 ? 401 : 403, reason: d.reason ?? 'refused' };
    if (d.principal === undefined && d.attributes === undefined) return { ok: true };
    return {
      ok: true,
      identity: {
        principal: d.principal ?? client.identity?.principal ?? client.username ?? client.clientId,
        method: 'script',
        attributes: Object.freeze({ ...d.attributes }),
      },
    };
  }

  /** A host takes this unit into its table; the unit runs until every host holding it has released it. */
  hold(): void {
    this.holds++;
  }

  /** A host lets go of this unit; the last one to do so closes it. */
  release(): Promise<void> {
    return --this.holds === 0 ? this.close() : Promise.resolve();
  }

  /** How many hosts hold this unit (admin API, tests). */
  get holders(): number {
    return this.holds;
  }

  /**
   * Runs the messages still queued, waits for their results, then disposes
   * its versions and leaves its thread (a thread left without scripts stops;
   * one shared with other scripts goes on).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fileWatch.stop();
    this.replica?.leave();
    this.replica = undefined;
    while (this.queue.length > 0 || this.inFlight > 0) {
      if (this.queue.length > 0) this.send();
      await this.drained.wait();
    }
    for (const [v, t] of this.retired) {
      clearTimeout(t);
      v.dispose();
    }
    this.retired.clear();
    this.current.dispose();
    await this.options.threads.release(this.thread, this.key);
  }

  private readonly flush = (): void => {
    // Under load, messages of several I/O turns share one batch (fewer, larger
    // hand-overs cost the main thread less). A partial batch waits another
    // turn only while messages keep arriving: a lone message, or a turn that
    // brought nothing new, goes at once.
    const n = this.queue.length;
    if (n > 1 && n < this.config.batchMax && this.waited < this.config.batchTurns && n > this.seen) {
      this.seen = n;
      this.waited++;
      setImmediate(this.flush);
      return;
    }
    this.seen = 0;
    this.waited = 0;
    this.scheduled = false;
    this.send();
  };

  /** Hands queued messages to the thread, as many batches as may be in flight; the rest wait for an answer. */
  private send(): void {
    const suspended = this.suspension.left();
    if (suspended > 0 && !this.closed) {
      const q = this.queue;
      this.queue = [];
      for (const p of q) p.resolve(this.suspendedFailure(suspended));
      return;
    }
    while (this.queue.length > 0 && (this.inFlight < BATCHES_IN_FLIGHT || this.closed)) {
      const max = this.config.batchMax;
      const q = this.queue;
      const items = q.length <= max ? q : q.slice(0, max);
      this.queue = q.length <= max ? [] : q.slice(max);
      this.inFlight++;
      void this.runBatch(items).finally(() => {
        this.inFlight--;
        this.drained.check();
        if (this.queue.length > 0 && !this.scheduled) {
          this.scheduled = true;
          setImmediate(this.flush);
        }
      });
    }
  }

  private async runBatch(items: readonly Pending[]): Promise<void> {
    this.messages.inc({ script: this.name }, items.length);
    const v = await this.live();
    const envs = items.map((p) => p.env);
    let out: BatchOutcome;
    try {
      out = await v.batch(batchWire(envs), payloadsOf(envs), items.length, this.now(), this.config.suspend.timeouts, this.suspension.takeTrial());
    } catch (err) {
      out = { parts: [], stop: { kind: 'error', message: (err as Error).message } };
    }
    let i = 0;
    let stop = out.stop;
    let finished = false;
    try {
      for (const part of out.parts) {
        // Each distinct result once, then one index per message (see the prelude's `counted`).
        const [distinct, index] = JSON.parse(part.json) as [MessageResult[], number[]];
        for (const k of index) {
          const r = distinct[k];
          if (r === undefined) throw new Error(`result index ${k} out of range`);
          if (r[0] !== 3) finished = true;
          if (i < items.length) this.settle(items[i++]!, r, v, part.bins);
        }
      }
    } catch (err) {
      // Cannot happen with the prelude's output; if it ever does, the rest fail rather than wait forever.
      stop = { kind: 'error', message: `unreadable results: ${(err as Error).message}` };
    }
    if (stop?.kind === 'suspended') {
      this.suspend(items.length - i);
      for (; i < items.length; i++) items[i]!.resolve(this.suspendedFailure(this.suspension.left()));
      return;
    }
    if (finished) this.suspension.reset();
    if (i === items.length) return;
    stop ??= { kind: 'error', message: 'script produced no result' };
    const code = stop.kind === 'memory' ? SCRIPT_CODES.memory : SCRIPT_CODES.threw;
    const reason = stop.kind === 'memory' ? `script exceeded its ${v.limits.memoryMb} MB memory limit` : `script call failed: ${stop.message}`;
    if (stop.kind === 'memory') void this.rebuild(v);
    for (; i < items.length; i++) {
      const p = items[i]!;
      p.resolve(this.fail(code, reason, senderOf(p.env), p.env.id));
    }
  }

  /** The script ran out of time on `scripts.suspend.timeouts` messages in a row (runner.ts): it is not run for a while. */
  private suspend(unrun: number): void {
    // A batch that was already in the thread reports the same suspension again.
    if (this.suspension.left() > 0) return;
    const ms = this.suspension.suspend();
    this.logger.warn(
      { timeouts: this.config.suspend.timeouts, suspendedMs: ms, refused: unrun },
      'script suspended after running out of time on messages in a row; its messages are refused until then',
    );
  }

  private suspendedFailure(left: number): ScriptFailure {
    this.errors.inc({ script: this.name, code: SCRIPT_CODES.suspended });
    const reason = `script '${this.name}' is suspended for ${Math.ceil(left / 1000)} s after running out of time on ${this.config.suspend.timeouts} messages in a row`;
    return failure(SCRIPT_CODES.suspended, reason, left);
  }

  private settle(p: Pending, r: MessageResult, v: RemoteVersion, bins: Bins): void {
    const env = p.env;
    if (r[0] === 3) {
      p.resolve(this.fail(SCRIPT_CODES.timeout, `onMessage exceeded the ${v.limits.timeoutMs} ms time limit`, senderOf(env), env.id));
    } else if (r[0] === 0) {
      let decisions: Decision[];
      try {
        decisions = validateDecisions(r[1], bins, v.limits.maxDecisionBytes);
      } catch (err) {
        const reason = err instanceof InvalidDecision ? err.message : String(err);
        p.resolve(this.fail(SCRIPT_CODES.invalid, reason, senderOf(env), env.id));
        return;
      }
      if (this.throttle.tracking) this.throttle.succeeded(senderOf(env));
      if (v.hasOnResponse) this.versionOf.set(env, v);
      p.resolve({ ok: true, decisions });
    } else if (r[0] === 1) {
      p.resolve(this.threw(r[1], r[2], v, senderOf(env), env.id, 'onMessage'));
    } else {
      p.resolve(this.fail(SCRIPT_CODES.invalid, r[1], senderOf(env), env.id));
    }
  }

  /** Interprets the outcome of a single (non-batched) call. */
  private single(
    out: CallOutcome,
    v: RemoteVersion,
    who: Sender,
    messageId: string | undefined,
    handler: string,
  ): { ok: true; value: unknown; bins: Bins } | ScriptFailure {
    switch (out.kind) {
      case 'done': {
        const r = out.results[0]!;
        if (r[0] === 0) {
          if (this.throttle.tracking) this.throttle.succeeded(who);
          return { ok: true, value: r[1], bins: out.bins };
        }
        if (r[0] === 1) return this.threw(r[1], r[2], v, who, messageId, handler);
        return this.fail(SCRIPT_CODES.invalid, r[1], who, messageId);
      }
      case 'timeout':
        return this.fail(SCRIPT_CODES.timeout, `${handler} exceeded the ${v.limits.timeoutMs} ms time limit`, who, messageId);
      case 'memory':
        this.rebuild(v);
        return this.fail(SCRIPT_CODES.memory, `script exceeded its ${v.limits.memoryMb} MB memory limit`, who, messageId);
      case 'error':
        return this.fail(SCRIPT_CODES.threw, `script call failed: ${out.message}`, who, messageId);
    }
  }

  private threw(message: string, stack: string, v: RemoteVersion, who: Sender, messageId: string | undefined, handler: string): ScriptFailure {
    const line = scriptLine(stack, v.filename);
    const where = line === undefined ? '' : ` (${basename(this.absPath)}:${line})`;
    return this.fail(SCRIPT_CODES.threw, `${handler} threw ${message}${where}`, who, messageId, line);
  }

  private fail(code: ScriptCode, reason: string, who: Sender, messageId?: string, line?: number): ScriptFailure {
    this.errors.inc({ script: this.name, code });
    const throttled = this.throttle.failed(who);
    const clientId = who.clientId;
    if (this.errorLogBucket.take()) {
      this.logger.warn({ code, clientId, ...(messageId !== undefined && { messageId }), ...(line !== undefined && { line }) }, `script failed: ${reason}`);
    }
    if (throttled === 'client') {
      this.logger.warn({ clientId, cooldownMs: this.config.throttle.cooldownMs }, 'client throttled after repeated script failures');
    } else if (throttled === 'address') {
      this.logger.warn({ remoteAddress: who.remoteAddress, cooldownMs: this.config.throttle.cooldownMs }, 'address throttled after repeated script failures');
    }
    return failure(code, reason);
  }

  /** The current version, rebuilt first if its isolate was lost to the memory limit or with its thread. */
  private async live(): Promise<RemoteVersion> {
    if (!this.current.alive) await this.rebuild(this.current);
    return this.current;
  }

  /** Compiles the source of a lost version again; messages arriving meanwhile wait for the one rebuild. */
  private rebuild(dead: RemoteVersion): Promise<void> {
    if (this.current !== dead || this.closed) return Promise.resolve();
    this.rebuilding ??= this.recompile(dead).finally(() => {
      this.rebuilding = undefined;
    });
    return this.rebuilding;
  }

  private async recompile(dead: RemoteVersion): Promise<void> {
    try {
      const next = await this.thread.compile(this.key, this.name, this.absPath, dead.source, this.config);
      // A reload swapped in a version meanwhile, or the unit closed: keep what is there.
      if (this.current !== dead || this.closed) return next.dispose();
      this.current = next;
      dead.dispose();
      this.reloads.inc({ script: this.name, result: 'rebuilt' });
      this.logger.warn('isolate rebuilt after exceeding its memory limit or losing its thread');
      this.events.emit('rebuilt', next);
    } catch (err) {
      this.logger.error({ err }, 'isolate could not be rebuilt; retrying on the next message');
    }
  }

  /**
   * Compiles the file's new text (or, with `force`, the same text under new
   * limits) aside and swaps it in: on a configuration reload (SIGHUP) and
   * when the watched file changes. The compile waits in the script's thread
   * behind a running batch; the event loop does not.
   */
  private reload(force: boolean): Promise<void> {
    const run = this.compileAndSwap(force);
    this.latestReload = run;
    return run;
  }

  private async compileAndSwap(force: boolean): Promise<void> {
    const source = this.changedSource(force);
    if (source === undefined) return;
    const seq = ++this.reloadSeq;
    let next: RemoteVersion;
    try {
      next = await this.thread.compile(this.key, this.name, this.absPath, source, this.config);
    } catch (err) {
      this.refuse(err, seq);
      return;
    }
    this.swapIn(next, seq);
  }

  /** The file's text when it differs from the running version's (or `force`); undefined when unchanged or unreadable. */
  private changedSource(force: boolean): string | undefined {
    if (this.closed) return undefined;
    let source: string;
    try {
      source = readScript(this.name, this.absPath);
    } catch (err) {
      this.reloads.inc({ script: this.name, result: 'refused' });
      this.logger.error({ err }, 'script file unreadable: keeping the running version');
      this.events.emit('refused', err);
      return undefined;
    }
    return force || source !== this.current.source ? source : undefined;
  }

  /** Reports a version that did not compile, unless a later reload began meanwhile or the unit closed. */
  private refuse(err: unknown, seq: number): void {
    if (seq !== this.reloadSeq || this.closed) return;
    this.reloads.inc({ script: this.name, result: 'refused' });
    this.logger.error({ err }, 'new script version refused: keeping the running version');
    this.events.emit('refused', err);
  }

  /** Swaps in a compiled version unless a later reload began meanwhile or the unit closed. */
  private swapIn(next: RemoteVersion, seq: number): void {
    if (seq !== this.reloadSeq || this.closed) {
      next.dispose();
      return;
    }
    const old = this.current;
    this.current = next;
    this.retire(old);
    // A new version is a new script: a suspension of the old one does not carry over.
    this.suspension.reset();
    this.reloads.inc({ script: this.name, result: 'swapped' });
    this.logger.info({ generation: next.generation }, 'script reloaded');
    this.events.emit('swapped', next);
  }

  private retire(v: RemoteVersion): void {
    const t = setTimeout(() => {
      this.retired.delete(v);
      v.dispose();
    }, this.options.retireAfterMs ?? DEFAULT_RETIRE_MS);
    t.unref();
    this.retired.set(v, t);
  }

  private scriptLog(level: string, text: string): void {
    if (!this.logBucket.take()) {
      this.logDropped.inc({ script: this.name });
      return;
    }
    const lv = level === 'warn' || level === 'error' ? level : 'info';
    this.logger[lv]({ scriptLog: true }, text);
  }
}

function senderOf(env: Envelope): Sender {
  return { protocol: env.protocol, clientId: env.source.clientId, remoteAddress: env.source.remoteAddress };
}

function readScript(name: string, absPath: string): string {
  try {
    return readFileSync(absPath, 'utf8');
  } catch (err) {
    // Compile errors and unreadable files are reported alike: the version cannot run.
    throw new ScriptCompileError(name, `cannot read ${absPath}: ${(err as Error).message}`, err);
  }
}

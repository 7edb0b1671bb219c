/**
 * The main thread's side of the script threads (worker.ts). A pool of up to
 * `scripts.threads` workers hosts every script; each script (unit) is placed
 * on the thread with the fewest scripts and stays there. With
 * `scripts.threads: 0` scripts placed from then on share one inline thread:
 * the event loop itself (inline.ts), spoken to in the same way. Messages go over in
 * batches and come back as per-message results; compiles are calls too,
 * answered when the thread gets to them, so the event loop never waits for
 * a thread that is busy with a batch. If a worker itself dies, its pending
 * calls fail, a new worker starts, and the versions of the old one count as
 * lost (each unit rebuilds its current version, as after a memory failure;
 * `ctx.state` starts empty).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ScriptCompileError } from './errors.js';
import type { StateLimits } from './state-store.js';
import type { CallOutcome, ScriptLimits } from './version.js';
import { replyFromWire, requestToWire, type BatchOutcome, type Compiled, type Reply, type Request } from './protocol.js';
import { InlineThread } from './inline.js';

/** What a ScriptThread needs of its worker (an InlineThread offers the same). */
interface ThreadPort {
  postMessage(msg: Request | string): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<number>;
  on(event: 'message', listener: (m: Reply | string) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'exit', listener: (code: number) => void): this;
}

/** A call awaiting its outcome, and whether it is a batch (which fails differently if the worker dies first). */
interface PendingCall {
  readonly resolve: (out: BatchOutcome | CallOutcome | Compiled) => void;
  readonly batch: boolean;
}

/** What a thread tells the script (unit) placed on it. */
export interface UnitHooks {
  log(level: string, text: string): void;
  /** The worker stopped; a new one runs, without the unit's versions and state. */
  lost(err: Error): void;
  /** Shared `ctx.state`: the script's writes and the entries its replica dropped, to store and announce. */
  stateChanges?(writes: Array<[string, string | null]>, evicted: Array<[string, string]>): void;
}

interface Placed {
  readonly hooks: UnitHooks;
  state: StateLimits;
}

/** The threads every script of a gateway runs on; carried from one configuration to the next on reload. */
export class ScriptThreads {
  private readonly threads: ScriptThread[] = [];
  private nextUnit = 1;

  /** `size`: most threads (a reload may change it; scripts already placed stay where they are). */
  constructor(public size: number) {}

  get count(): number {
    return this.threads.length;
  }

  /**
   * Places a script on the worker thread with the fewest scripts, starting a
   * new one while there are fewer than `size`; with `size` 0, on the inline
   * thread.
   */
  place(state: StateLimits, hooks: UnitHooks): { readonly thread: ScriptThread; readonly unit: number } {
    const inline = this.size === 0;
    let thread: ScriptThread | undefined;
    let workers = 0;
    for (const t of this.threads) {
      if (!t.inline) workers++;
      if (t.inline === inline && (!thread || t.units < thread.units)) thread = t;
    }
    if (!thread || (!inline && thread.units > 0 && workers < this.size)) {
      thread = new ScriptThread(inline);
      this.threads.push(thread);
    }
    const unit = this.nextUnit++;
    thread.attach(unit, state, hooks);
    return { thread, unit };
  }

  /** Removes a script; a thread left without scripts stops. */
  async release(thread: ScriptThread, unit: number): Promise<void> {
    thread.detach(unit);
    if (thread.units > 0) return;
    const i = this.threads.indexOf(thread);
    if (i >= 0) this.threads.splice(i, 1);
    await thread.close();
  }
}

export class ScriptThread {
  private worker!: ThreadPort;
  /** Calls awaiting their outcome, each with the outcome it gets if the worker dies first. */
  private readonly pending = new Map<number, PendingCall>();
  private readonly placed = new Map<number, Placed>();
  private nextId = 1;
  private closing = false;
  /** Counts workers started; versions of an earlier one are lost. */
  epoch = 0;

  /** `inline`: the thread is the event loop (inline.ts), not a worker. */
  constructor(readonly inline = false) {
    this.start();
  }

  get units(): number {
    return this.placed.size;
  }

  attach(unit: number, state: StateLimits, hooks: UnitHooks): void {
    this.placed.set(unit, { hooks, state });
    this.post({ op: 'attach', unit, limits: state });
  }

  detach(unit: number): void {
    if (!this.placed.delete(unit)) return;
    this.post({ op: 'detach', unit });
  }

  /**
   * Compiles a version of a unit's script in the worker, after whatever the
   * thread is running; rejects with ScriptCompileError.
   */
  async compile(unit: number, name: string, absPath: string, source: string, limits: ScriptLimits): Promise<RemoteVersion> {
    const epoch = this.epoch;
    const out = await this.call<CallOutcome | Compiled>((id) => compileRequest(id, unit, name, absPath, source, limits));
    if ('kind' in out) throw new ScriptCompileError(name, `the script thread stopped while compiling: ${out.kind === 'error' ? out.message : out.kind}`);
    return this.version(name, source, limits, out, epoch);
  }

  private version(name: string, source: string, limits: ScriptLimits, c: Compiled, epoch: number): RemoteVersion {
    if (!c.ok) throw new ScriptCompileError(name, c.detail);
    return new RemoteVersion(this, epoch, c.version, source, limits, c.hasOnResponse, c.hasOnConnect, c.filename);
  }

  configureState(unit: number, limits: StateLimits): void {
    const p = this.placed.get(unit);
    if (!p) return;
    p.state = limits;
    this.post({ op: 'state', unit, limits });
  }

  /**
   * Sends a call — `request` makes it from the call's id — and resolves with
   * its outcome (an `error` outcome if the worker dies meanwhile).
   */
  call<T extends BatchOutcome | CallOutcome | Compiled>(request: (id: number) => Request): Promise<T> {
    const id = this.nextId++;
    const req = request(id);
    return new Promise<T>((resolve) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve: resolve as (out: BatchOutcome | CallOutcome | Compiled) => void, batch: req.op === 'batch' });
      this.post(req);
    });
  }

  /** Sends a request: to a worker in its cheapest crossing form (protocol.ts), to the inline thread as it is. */
  post(req: Request): void {
    this.worker.postMessage(this.inline ? req : requestToWire(req));
  }

  get closed(): boolean {
    return this.closing;
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
    this.failPending(new Error('script thread closed'));
  }

  private start(): void {
    this.epoch++;
    const worker: ThreadPort = this.inline ? new InlineThread() : new Worker(workerFile());
    worker.unref();
    worker.on('message', (wire: Reply | string) => {
      const m = replyFromWire(wire);
      if (m.t === 'log') {
        this.placed.get(m.unit)?.hooks.log(m.level, m.text);
        return;
      }
      if (m.t === 'state') {
        this.placed.get(m.unit)?.hooks.stateChanges?.(m.writes, m.evicted);
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      p.resolve(m.out);
    });
    worker.on('error', (err) => this.lost(worker, err));
    worker.on('exit', (code) => this.lost(worker, new Error(`script thread exited with code ${code}`)));
    this.worker = worker;
    for (const [unit, p] of this.placed) this.post({ op: 'attach', unit, limits: p.state });
  }

  private lost(worker: ThreadPort, err: Error): void {
    if (worker !== this.worker || this.closing) return;
    this.start();
    this.failPending(err);
    for (const p of this.placed.values()) p.hooks.lost(err);
  }

  /** Fails the calls still waiting: the worker died, or the thread was closed (a compile begun by a reload the gateway's stop overtook). */
  private failPending(err: Error): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) failCall(p, err);
  }
}

/** A compiled version living in a script thread. */
export class RemoteVersion {
  private disposed = false;
  private lostMemory = false;

  constructor(
    private readonly thread: ScriptThread,
    private readonly epoch: number,
    readonly generation: number,
    readonly source: string,
    readonly limits: ScriptLimits,
    readonly hasOnResponse: boolean,
    readonly hasOnConnect: boolean,
    /** The file URL used in stack traces. */
    readonly filename: string,
  ) {}

  get alive(): boolean {
    return !this.disposed && !this.lostMemory && this.epoch === this.thread.epoch && !this.thread.closed;
  }

  async batch(json: string, payloads: string | Uint8Array, count: number, now: number, suspendAfter: number, trial: boolean): Promise<BatchOutcome> {
    const out = await this.thread.call<BatchOutcome>((id) => ({ op: 'batch', id, version: this.generation, json, payloads, count, now, suspendAfter, trial }));
    if (out.stop?.kind === 'memory') this.lostMemory = true;
    return out;
  }

  async response(res: readonly unknown[], wire: readonly unknown[], payload: Uint8Array, now: number): Promise<CallOutcome> {
    return this.single(await this.thread.call<CallOutcome>((id) => ({ op: 'response', id, version: this.generation, res, wire, payload, now })));
  }

  async connect(client: Record<string, unknown>, now: number): Promise<CallOutcome> {
    return this.single(await this.thread.call<CallOutcome>((id) => ({ op: 'connect', id, version: this.generation, client, now })));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.epoch === this.thread.epoch && !this.thread.closed) this.thread.post({ op: 'dispose', version: this.generation });
  }

  private single(out: CallOutcome): CallOutcome {
    if (out.kind === 'memory') this.lostMemory = true;
    return out;
  }
}

/** Ends a call with the outcome a dead thread gives it. */
function failCall(p: PendingCall, err: Error): void {
  p.resolve(p.batch ? { parts: [], stop: { kind: 'error', message: err.message } } : { kind: 'error', message: err.message });
}

/** A compile request; only the limits the isolate needs cross to the thread. */
function compileRequest(id: number, unit: number, name: string, absPath: string, source: string, limits: ScriptLimits): Extract<Request, { op: 'compile' }> {
  const { memoryMb, timeoutMs, maxDecisionBytes, maxBatchDecisionBytes } = limits;
  return { op: 'compile', id, unit, name, absPath, source, limits: { memoryMb, timeoutMs, maxDecisionBytes, maxBatchDecisionBytes } };
}

/** The compiled worker: next to this file, or in dist/ when this file runs from the TypeScript sources (tests). */
function workerFile(): URL {
  const here = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  return new URL('../../dist/scripting/worker.js', import.meta.url);
}

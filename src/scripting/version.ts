/**
 * One compiled version of one script: its own isolate (memory limit), one
 * context reused for every call, the prelude's entry points and the script's
 * module. Calls are synchronous (`applySync`) with a per-call timeout; data
 * crosses the boundary by copy only.
 */
import ivm from 'isolated-vm';
import { pathToFileURL } from 'node:url';
import { PRELUDE } from './prelude.js';
import { ScriptCompileError } from './errors.js';

export interface ScriptLimits {
  readonly memoryMb: number;
  readonly timeoutMs: number;
  /** Most a message's decisions may carry (`scripts.maxDecisionBytes`; see isolate/prelude.js). */
  readonly maxDecisionBytes: number;
  /** Most the results of one batch call may carry (`scripts.maxBatchDecisionBytes`). */
  readonly maxBatchDecisionBytes: number;
}

/**
 * The bound on one call's results the isolate is given: the configured one,
 * but at most a quarter of its heap, since the results exist in it two or
 * three times over (the decisions, their JSON text, the flat copy that crosses).
 */
export function callBytesOf(limits: ScriptLimits): number {
  return Math.min(limits.maxBatchDecisionBytes, (limits.memoryMb * 1024 * 1024) / 4);
}

/** What the isolate may call back into: both take and return copies only. */
export interface HostHooks {
  log(level: string, text: string): void;
  state(op: string, key?: string, value?: string): string | number | boolean | undefined;
}

/** One message's raw result as the prelude reports it. */
export type RawResult = readonly [0, unknown] | readonly [1, string, string] | readonly [2, string];

/** Bytes referred to from results as `{"$bin": index}`. */
export type Bins = readonly Uint8Array[];

/** Results of a call. */
export interface Done {
  readonly results: readonly RawResult[];
  readonly bins: Bins;
}

/** Results of a batch call, as JSON text of `count` RawResults (left unparsed: the main thread parses them). */
export interface BatchDone {
  readonly count: number;
  readonly json: string;
  readonly bins: Bins;
}

export type Outcome<D> =
  | ({ readonly kind: 'done' } & D)
  /**
   * The results are the messages finished before the one that ran out of time.
   * `starved`: the call hit its (wall-clock) limit having used less than half
   * of it in CPU time: the host was busy, not the script.
   */
  | ({ readonly kind: 'timeout'; readonly starved: boolean } & D)
  /** The isolate exceeded its memory limit and is gone. */
  | { readonly kind: 'memory' }
  | { readonly kind: 'error'; readonly message: string };

export type CallOutcome = Outcome<Done>;
export type BatchCallOutcome = Outcome<BatchDone>;

type Fn = ivm.Reference<(...args: unknown[]) => unknown>;

const COPY_BOTH = { arguments: { copy: true }, result: { copy: true } } as const;
export const NO_BINS: Bins = [];
/** Top-level module code gets a fixed budget: it runs once per version, not per message. */
const EVALUATE_TIMEOUT_MS = 1000;
let generation = 0;

export class ScriptVersion {
  readonly generation = ++generation;
  readonly hasOnResponse: boolean;
  readonly hasOnConnect: boolean;
  /** The file URL used in stack traces. */
  readonly filename: string;
  private readonly batchFn: Fn;
  private readonly progressFn: Fn;
  private readonly responseFn: Fn;
  private readonly connectFn: Fn;
  private disposed = false;
  /** Messages in a row that ran out of time (runner.ts suspends the script after `scripts.suspend.timeouts`). */
  timeouts = 0;

  private constructor(
    readonly isolate: ivm.Isolate,
    private readonly context: ivm.Context,
    readonly source: string,
    readonly limits: ScriptLimits,
    fns: { batch: Fn; progress: Fn; response: Fn; connect: Fn },
    exportsFlags: readonly boolean[],
    filename: string,
  ) {
    this.batchFn = fns.batch;
    this.progressFn = fns.progress;
    this.responseFn = fns.response;
    this.connectFn = fns.connect;
    this.hasOnResponse = exportsFlags[1] === true;
    this.hasOnConnect = exportsFlags[2] === true;
    this.filename = filename;
  }

  /** Compiles `source` in a fresh isolate. Throws ScriptCompileError; never leaves an isolate behind on failure. */
  static compile(name: string, absPath: string, source: string, limits: ScriptLimits, hooks: HostHooks): ScriptVersion {
    const isolate = new ivm.Isolate({ memoryLimit: limits.memoryMb });
    try {
      const context = isolate.createContextSync();
      const jail = context.global;
      jail.setSync('__tg_log', new ivm.Callback((level: string, text: string) => hooks.log(String(level), String(text))));
      jail.setSync('__tg_state', new ivm.Callback((op: string, key?: string, value?: string) => hooks.state(String(op), key, value)));
      const api = isolate.compileScriptSync(PRELUDE, { filename: 'thinggate:prelude' }).runSync(context, { reference: true }) as ivm.Reference<
        Record<string, unknown>
      >;
      const fn = (k: string): Fn => api.getSync(k, { reference: true }) as Fn;
      const filename = pathToFileURL(absPath).href;
      let module: ivm.Module;
      try {
        module = isolate.compileModuleSync(source, { filename });
      } catch (err) {
        throw new ScriptCompileError(name, `does not compile: ${(err as Error).message}`, err);
      }
      try {
        // Scripts are self-contained: every import is refused, so nothing of the host can be loaded.
        module.instantiateSync(context, (specifier) => {
          throw new Error(`import of '${specifier}' is not allowed in a routing script`);
        });
        module.evaluateSync({ timeout: Math.max(EVALUATE_TIMEOUT_MS, limits.timeoutMs) });
      } catch (err) {
        const why = isolate.isDisposed ? 'exceeded its memory limit while loading' : (err as Error).message;
        throw new ScriptCompileError(name, `cannot be loaded: ${why}`, err);
      }
      const flags = fn('bind').applySync(undefined, [module.namespace.derefInto(), limits.maxDecisionBytes, callBytesOf(limits)], {
        result: { copy: true },
      }) as boolean[];
      if (!flags[0]) throw new ScriptCompileError(name, 'does not export an onMessage(msg, ctx) function');
      return new ScriptVersion(
        isolate,
        context,
        source,
        limits,
        { batch: fn('batch'), progress: fn('progress'), response: fn('response'), connect: fn('connect') },
        flags,
        filename,
      );
    } catch (err) {
      if (!isolate.isDisposed) isolate.dispose();
      if (err instanceof ScriptCompileError) throw err;
      throw new ScriptCompileError(name, (err as Error).message, err);
    }
  }

  get alive(): boolean {
    return !this.disposed && !this.isolate.isDisposed;
  }

  /**
   * Runs `onMessage` over messages given as JSON text of wire arrays and
   * their concatenated payloads (see isolate/prelude.js), starting at message `from`;
   * it may stop early after a time slice, leaving the rest to another call.
   */
  batch(json: string, payloads: Uint8Array | string, now: number, from = 0): BatchCallOutcome {
    const sliceMs = Math.min(1, this.limits.timeoutMs / 10);
    return this.call(this.batchFn, [json, payloads, now, sliceMs, from], true, decodeCounted);
  }

  /** Runs `onResponse`; the result is one RawResult. */
  response(res: readonly unknown[], wire: readonly unknown[], payload: Uint8Array, now: number): CallOutcome {
    return this.call(this.responseFn, [res, wire, payload, now], false, decodeOne);
  }

  /** Runs `onConnect`; the result is one RawResult. */
  connect(client: Record<string, unknown>, now: number): CallOutcome {
    return this.call(this.connectFn, [client, now], false, decodeOne);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.context.release();
    if (!this.isolate.isDisposed) this.isolate.dispose();
  }

  private call<D>(fn: Fn, args: unknown[], resumable: boolean, decode: (r: unknown) => D): Outcome<D> {
    let out = this.callOnce(fn, args, resumable, decode);
    // A single call starved by a busy host gets more goes; batches resume in the caller instead.
    for (let i = 0; i < 3 && !resumable && out.kind === 'timeout' && out.starved; i++) out = this.callOnce(fn, args, resumable, decode);
    return out;
  }

  private callOnce<D>(fn: Fn, args: unknown[], resumable: boolean, decode: (r: unknown) => D): Outcome<D> {
    if (!this.alive) return { kind: 'memory' };
    // isolated-vm enforces the timeout on wall time; CPU time tells a busy host from a busy script.
    const cpu0 = this.isolate.cpuTime;
    try {
      return { kind: 'done', ...decode(fn.applySync(undefined, args, { ...COPY_BOTH, timeout: this.limits.timeoutMs })) };
    } catch (err) {
      if (this.isolate.isDisposed) return { kind: 'memory' };
      const message = (err as Error)?.message ?? String(err);
      if (/timed out/i.test(message)) {
        // A single call has nothing finished; a batch reports the messages done before the one that ran out of time.
        let done = decode(resumable ? '0 []' : 'null');
        if (resumable) {
          try {
            done = decode(this.progressFn.applySync(undefined, [], { result: { copy: true }, timeout: this.limits.timeoutMs }));
          } catch {
            // Nothing recoverable: the messages of the call are retried or failed by the caller.
          }
        }
        const cpuMs = Number(this.isolate.cpuTime - cpu0) / 1e6;
        return { kind: 'timeout', ...done, starved: cpuMs < this.limits.timeoutMs / 2 };
      }
      return { kind: 'error', message };
    }
  }
}

/** JSON text and the bytes its `{"$bin": i}` refer to. */
function split(r: unknown): [string, Bins] {
  return typeof r === 'string' ? [r, NO_BINS] : (r as [string, Uint8Array[]]);
}

/** A single call's result: one RawResult. */
function decodeOne(r: unknown): Done {
  const [json, bins] = split(r);
  return { results: [JSON.parse(json) as RawResult], bins };
}

/** A batch's result: `${count} ${json}`, passed on unparsed. */
function decodeCounted(r: unknown): BatchDone {
  const [text, bins] = split(r);
  const sp = text.indexOf(' ');
  return { count: Number(text.slice(0, sp)), json: text.slice(sp + 1), bins };
}

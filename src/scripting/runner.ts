/**
 * What a script thread does: it owns the isolates (running versions and any
 * being retired) and `ctx.state` stores of the scripts placed on it, and
 * answers the requests of protocol.ts. A worker runs one (worker.ts); with
 * `scripts.threads: 0` the gateway's event loop runs one itself (inline.ts).
 */
import { ScriptVersion, type HostHooks, type ScriptLimits } from './version.js';
import { StateStore, type StateLimits } from './state-store.js';
import { ScriptCompileError } from './errors.js';
import type { BatchOutcome, Compiled, Part, Reply, Request } from './protocol.js';

type BatchRequest = Extract<Request, { op: 'batch' }>;

/** Tries a message gets when its calls keep running out of wall-clock time without using the CPU. */
const STARVED_RETRIES = 3;
/** The part of a message that ran out of time. */
const TIMED_OUT = '[[[3]],[0]]';

/** Where a runner's replies go. */
export interface ReplyPort {
  postMessage(reply: Reply): void;
}

/**
 * A batch being run: each step is one isolate call (one time slice, see
 * ScriptVersion.batch); the reply is sent when the last step is done.
 */
export type BatchRun = Iterator<void, void>;

export class ScriptRunner {
  /** Per script (unit): its state store and hooks. */
  private readonly units = new Map<number, { readonly store: StateStore; readonly hooks: HostHooks }>();
  private readonly versions = new Map<number, { readonly v: ScriptVersion; readonly unit: number }>();

  constructor(private readonly port: ReplyPort) {}

  /** Handles one request; a batch is returned as a run for the caller to step through to its end. */
  handle(m: Request): BatchRun | undefined {
    const port = this.port;
    switch (m.op) {
      case 'attach': {
        const unit = m.unit;
        const store = new StateStore(m.limits, (writes, evicted) => port.postMessage({ t: 'state', unit, writes, evicted }));
        this.units.set(unit, {
          store,
          hooks: {
            log: (level, text) => port.postMessage({ t: 'log', unit, level, text }),
            state: (op, key, value) => store.call(op, key, value),
          },
        });
        return undefined;
      }
      case 'detach':
        for (const [id, e] of this.versions) {
          if (e.unit !== m.unit) continue;
          e.v.dispose();
          this.versions.delete(id);
        }
        this.units.delete(m.unit);
        return undefined;
      case 'compile':
        port.postMessage({ t: 'r', id: m.id, out: this.compile(m.unit, m.name, m.absPath, m.source, m.limits) });
        return undefined;
      case 'state':
        this.units.get(m.unit)?.store.configure(m.limits as StateLimits);
        return undefined;
      case 'state-apply':
        this.units.get(m.unit)?.store.apply(m.changes);
        return undefined;
      case 'state-ack':
        this.units.get(m.unit)?.store.ack(m.keys);
        return undefined;
      case 'state-load':
        this.units.get(m.unit)?.store.load(m.entries, m.keep);
        return undefined;
      case 'batch':
        return this.batch(m, this.versions.get(m.version)?.v);
      case 'response': {
        const v = this.versions.get(m.version)?.v;
        port.postMessage({ t: 'r', id: m.id, out: v?.alive ? v.response(m.res, m.wire, m.payload, m.now) : { kind: 'memory' } });
        return undefined;
      }
      case 'connect': {
        const v = this.versions.get(m.version)?.v;
        port.postMessage({ t: 'r', id: m.id, out: v?.alive ? v.connect(m.client, m.now) : { kind: 'memory' } });
        return undefined;
      }
      case 'dispose':
        this.versions.get(m.version)?.v.dispose();
        this.versions.delete(m.version);
        return undefined;
    }
  }

  /** Disposes every isolate (a worker's end does this by itself). */
  disposeAll(): void {
    for (const e of this.versions.values()) e.v.dispose();
    this.versions.clear();
    this.units.clear();
  }

  private compile(unit: number, name: string, absPath: string, source: string, limits: ScriptLimits): Compiled {
    const u = this.units.get(unit);
    if (!u) return { ok: false, detail: 'internal error: the script is not attached to its thread' };
    try {
      const v = ScriptVersion.compile(name, absPath, source, limits, u.hooks);
      this.versions.set(v.generation, { v, unit });
      return { ok: true, version: v.generation, hasOnResponse: v.hasOnResponse, hasOnConnect: v.hasOnConnect, filename: v.filename };
    } catch (err) {
      return { ok: false, detail: err instanceof ScriptCompileError ? err.detail : String((err as Error)?.message ?? err) };
    }
  }

  private *batch(m: BatchRequest, v: ScriptVersion | undefined): Generator<void, void> {
    if (v && m.trial) v.timeouts = Math.min(v.timeouts, m.suspendAfter - 1);
    this.port.postMessage({ t: 'r', id: m.id, out: yield* slices(v, m) });
  }
}

/**
 * Runs every message of a batch, each with (nearly) the whole per-call time
 * limit: the prelude stops after a time slice and the next call resumes
 * (yielding in between). A message that runs out of time is marked `[3]` and
 * the rest go on; a call starved by a busy host (little CPU used) is retried.
 * Once the script has run out of time on `suspendAfter` messages in a row
 * (counted across batches; a finished message resets the count) the batch
 * stops: the host suspends the script, so one that spins holds its thread,
 * and the scripts sharing it, for a few time limits and not for every message.
 */
function* slices(v: ScriptVersion | undefined, m: BatchRequest): Generator<void, BatchOutcome> {
  const { json, payloads, count, now, suspendAfter } = m;
  const parts: Part[] = [];
  let start = 0;
  let retriedAt = -1;
  let retries = 0;
  for (let call = 0; start < count; call++) {
    if (call > 0) yield;
    if (!v?.alive) return { parts, stop: { kind: 'memory' } };
    if (v.timeouts >= suspendAfter) return { parts, stop: { kind: 'suspended' } };
    const out = v.batch(json, payloads, now, start);
    if (out.kind === 'memory' || out.kind === 'error') return { parts, stop: out };
    const n = out.count;
    // The results go on as the prelude's JSON text: cheaper for the main thread to parse than to receive as objects.
    if (n > 0) {
      parts.push({ json: out.json, bins: out.bins });
      v.timeouts = 0;
    }
    start += n;
    if (out.kind === 'done') {
      if (n === 0) return { parts, stop: { kind: 'error', message: 'script produced no result' } };
      continue;
    }
    if (out.starved && (retriedAt !== start || retries < STARVED_RETRIES)) {
      retries = retriedAt === start ? retries + 1 : 1;
      retriedAt = start;
    } else if (start < count) {
      parts.push({ json: TIMED_OUT, bins: [] });
      start++;
      v.timeouts++;
    }
  }
  return { parts };
}

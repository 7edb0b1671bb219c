/**
 * A script thread: a worker that owns the isolates (running versions and
 * any being retired) and `ctx.state` stores of the scripts placed on it. The
 * main thread sends it batches of messages and gets per-message results
 * back, so a slow or spinning script holds this thread — never the gateway's
 * event loop. Protocol: protocol.ts.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { ScriptVersion, type HostHooks, type ScriptLimits } from './version.js';
import { StateStore, type StateLimits } from './state-store.js';
import { ScriptCompileError } from './errors.js';
import { decodeBatch, type BatchOutcome, type Compiled, type Part, type Request } from './protocol.js';

/** Tries a message gets when its calls keep running out of wall-clock time without using the CPU. */
const STARVED_RETRIES = 3;
/** The part of a message that ran out of time. */
const TIMED_OUT = '[[[3]],[0]]';

const port = parentPort as MessagePort;
/** Per script (unit): its state store and hooks. */
const units = new Map<number, { readonly store: StateStore; readonly hooks: HostHooks }>();
const versions = new Map<number, { readonly v: ScriptVersion; readonly unit: number }>();

port.on('message', handle);

function handle(msg: Request | string): void {
  const m = typeof msg === 'string' ? decodeBatch(msg) : msg;
  switch (m.op) {
    case 'attach': {
      const unit = m.unit;
      const store = new StateStore(m.limits);
      units.set(unit, {
        store,
        hooks: {
          log: (level, text) => port.postMessage({ t: 'log', unit, level, text }),
          state: (op, key, value) => store.call(op, key, value),
        },
      });
      return;
    }
    case 'detach':
      for (const [id, e] of versions) {
        if (e.unit !== m.unit) continue;
        e.v.dispose();
        versions.delete(id);
      }
      units.delete(m.unit);
      return;
    case 'compile': {
      port.postMessage({ t: 'r', id: m.id, out: compile(m.unit, m.name, m.absPath, m.source, m.limits) });
      return;
    }
    case 'state':
      units.get(m.unit)?.store.configure(m.limits as StateLimits);
      return;
    case 'batch': {
      const out = runBatch(versions.get(m.version)?.v, m.json, m.payloads, m.count, m.now);
      const only = out.parts.length === 1 && out.stop === undefined ? out.parts[0]! : undefined;
      // The usual outcome goes as a string (see protocol.ts), anything else as an object.
      port.postMessage(only && only.bins.length === 0 ? `${m.id} ${only.json}` : { t: 'r', id: m.id, out });
      return;
    }
    case 'response': {
      const v = versions.get(m.version)?.v;
      port.postMessage({ t: 'r', id: m.id, out: v?.alive ? v.response(m.res, m.wire, m.payload, m.now) : { kind: 'memory' } });
      return;
    }
    case 'connect': {
      const v = versions.get(m.version)?.v;
      port.postMessage({ t: 'r', id: m.id, out: v?.alive ? v.connect(m.client, m.now) : { kind: 'memory' } });
      return;
    }
    case 'dispose':
      versions.get(m.version)?.v.dispose();
      versions.delete(m.version);
      return;
  }
}

function compile(unit: number, name: string, absPath: string, source: string, limits: ScriptLimits): Compiled {
  const u = units.get(unit);
  if (!u) return { ok: false, detail: 'internal error: the script is not attached to its thread' };
  try {
    const v = ScriptVersion.compile(name, absPath, source, limits, u.hooks);
    versions.set(v.generation, { v, unit });
    return { ok: true, version: v.generation, hasOnResponse: v.hasOnResponse, hasOnConnect: v.hasOnConnect, filename: v.filename };
  } catch (err) {
    return { ok: false, detail: err instanceof ScriptCompileError ? err.detail : String((err as Error)?.message ?? err) };
  }
}

/**
 * Runs every message of a batch, each with (nearly) the whole per-call time
 * limit: the prelude stops after a time slice and the next call resumes. A
 * message that runs out of time is marked `[3]` and the rest go on; a call
 * starved by a busy host (little CPU used) is retried.
 */
function runBatch(v: ScriptVersion | undefined, json: string, payloads: string | Uint8Array, count: number, now: number): BatchOutcome {
  const parts: Part[] = [];
  let start = 0;
  let retriedAt = -1;
  let retries = 0;
  while (start < count) {
    if (!v?.alive) return { parts, stop: { kind: 'memory' } };
    const out = v.batch(json, payloads, now, start);
    if (out.kind === 'memory' || out.kind === 'error') return { parts, stop: out };
    const n = out.count;
    // The results go on as the prelude's JSON text: cheaper for the main thread to parse than to receive as objects.
    if (n > 0) parts.push({ json: out.json, bins: out.bins });
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
    }
  }
  return { parts };
}

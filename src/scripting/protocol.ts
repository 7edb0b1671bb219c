/**
 * What the gateway's main thread and a script thread (worker.ts) say to each
 * other. Requests and replies are plain values. Between threads the frequent
 * ones — a batch of messages and its results — travel as single strings,
 * which cross several times cheaper than objects (the *Wire functions below);
 * the inline thread (inline.ts) takes them as they are.
 */
import type { StateLimits } from './state-store.js';
import { NO_BINS, type Bins, type CallOutcome, type RawResult, type ScriptLimits } from './version.js';

export type Request =
  /** A script joins the thread: its `ctx.state` store is made. */
  | { readonly op: 'attach'; readonly unit: number; readonly limits: StateLimits }
  /** A script leaves: its versions and store go. */
  | { readonly op: 'detach'; readonly unit: number }
  | {
      readonly op: 'compile';
      readonly id: number;
      readonly unit: number;
      readonly name: string;
      readonly absPath: string;
      readonly source: string;
      readonly limits: ScriptLimits;
    }
  | { readonly op: 'state'; readonly unit: number; readonly limits: StateLimits }
  /** Shared `ctx.state` (state-store.ts): changes announced by the nodes, in order. */
  | { readonly op: 'state-apply'; readonly unit: number; readonly changes: ReadonlyArray<readonly [string, string | null]> }
  /** Shared `ctx.state`: the unit's own writes to these keys were announced (or failed). */
  | { readonly op: 'state-ack'; readonly unit: number; readonly keys: readonly string[] }
  /** Shared `ctx.state`: the stored entries, except `keep` (changed since). */
  | { readonly op: 'state-load'; readonly unit: number; readonly entries: ReadonlyArray<readonly [string, string]>; readonly keep: readonly string[] }
  | {
      readonly op: 'batch';
      readonly id: number;
      readonly version: number;
      readonly json: string;
      readonly payloads: string | Uint8Array;
      readonly count: number;
      readonly now: number;
      /** Consecutive time-outs after which the batch stops and the script is suspended (`scripts.suspend.timeouts`). */
      readonly suspendAfter: number;
      /** The first batch after a suspension: one more time-out suspends the script again. */
      readonly trial: boolean;
    }
  | {
      readonly op: 'response';
      readonly id: number;
      readonly version: number;
      readonly res: readonly unknown[];
      readonly wire: readonly unknown[];
      readonly payload: Uint8Array;
      readonly now: number;
    }
  | { readonly op: 'connect'; readonly id: number; readonly version: number; readonly client: Record<string, unknown>; readonly now: number }
  | { readonly op: 'dispose'; readonly version: number };

export type Compiled =
  | { readonly ok: true; readonly version: number; readonly hasOnResponse: boolean; readonly hasOnConnect: boolean; readonly filename: string }
  | { readonly ok: false; readonly detail: string };

/** One message's result: the prelude's, or `[3]` for a message that ran out of time. */
export type MessageResult = RawResult | readonly [3];

/**
 * Consecutive results of one isolate call as JSON text, `[distinct, index]`:
 * each distinct MessageResult once, then one index into them per message; and
 * the bytes they refer to (`{"$bin": i}` indexes `bins`).
 */
export interface Part {
  readonly json: string;
  readonly bins: Bins;
}

/**
 * A batch's results in order; `stop` fails every message after the parts
 * (`suspended`: the script ran out of time on `suspendAfter` messages in a row;
 * the rest were not run).
 */
export interface BatchOutcome {
  readonly parts: readonly Part[];
  readonly stop?: { readonly kind: 'memory' } | { readonly kind: 'suspended' } | { readonly kind: 'error'; readonly message: string };
}

/** Replies from a script thread: an outcome, a line a script logged, or a shared `ctx.state`'s changes to pass on. */
export type Reply =
  | { readonly t: 'r'; readonly id: number; readonly out: BatchOutcome | CallOutcome | Compiled }
  | { readonly t: 'log'; readonly unit: number; readonly level: string; readonly text: string }
  | { readonly t: 'state'; readonly unit: number; readonly writes: Array<[string, string | null]>; readonly evicted: Array<[string, string]> };

type BatchRequest = Extract<Request, { op: 'batch' }>;

/**
 * A request as it crosses to a worker: a batch whose payloads are a Latin-1
 * string goes as one string,
 * `B${id} ${version} ${count} ${now} ${suspendAfter} ${trial} ${json.length}\n${json}${payloads}`.
 */
export function requestToWire(r: Request): Request | string {
  if (r.op !== 'batch' || typeof r.payloads !== 'string') return r;
  return `B${r.id} ${r.version} ${r.count} ${r.now} ${r.suspendAfter} ${r.trial ? 1 : 0} ${r.json.length}\n${r.json}${r.payloads}`;
}

export function requestFromWire(m: Request | string): Request {
  if (typeof m !== 'string') return m;
  const nl = m.indexOf('\n');
  const [id, version, count, now, suspendAfter, trial, len] = m.slice(1, nl).split(' ').map(Number) as [number, number, number, number, number, number, number];
  const end = nl + 1 + len;
  return { op: 'batch', id, version, count, now, suspendAfter, trial: trial === 1, json: m.slice(nl + 1, end), payloads: m.slice(end) } satisfies BatchRequest;
}

/** A reply as it crosses from a worker: a batch's usual outcome (one part, no bytes) goes as the string `${id} ${json}`. */
export function replyToWire(r: Reply): Reply | string {
  if (r.t !== 'r' || !('parts' in r.out)) return r;
  const { parts, stop } = r.out;
  const only = parts.length === 1 && stop === undefined ? parts[0]! : undefined;
  return only && only.bins.length === 0 ? `${r.id} ${only.json}` : r;
}

export function replyFromWire(m: Reply | string): Reply {
  if (typeof m !== 'string') return m;
  const sp = m.indexOf(' ');
  return { t: 'r', id: Number(m.slice(0, sp)), out: { parts: [{ json: m.slice(sp + 1), bins: NO_BINS }] } };
}

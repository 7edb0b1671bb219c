/**
 * What the gateway's main thread and a script thread (worker.ts) say to each
 * other. Requests and replies are plain values; the frequent ones — a batch
 * of messages and its results — travel as single strings, which cross
 * between threads several times cheaper than objects.
 */
import type { StateLimits } from './state-store.js';
import type { Bins, CallOutcome, RawResult, ScriptLimits } from './version.js';

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
  | {
      readonly op: 'batch';
      readonly id: number;
      readonly version: number;
      readonly json: string;
      readonly payloads: string | Uint8Array;
      readonly count: number;
      readonly now: number;
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

/** A batch's results in order; `stop` fails every message after the parts. */
export interface BatchOutcome {
  readonly parts: readonly Part[];
  readonly stop?: { readonly kind: 'memory' } | { readonly kind: 'error'; readonly message: string };
}

/**
 * Replies from the worker. A batch whose results fit one part without bytes
 * (the usual case) comes as the string `${id} ${json}`: a string crosses
 * between threads several times cheaper than an object.
 */
export type Reply =
  | string
  | { readonly t: 'r'; readonly id: number; readonly out: BatchOutcome | CallOutcome | Compiled }
  | { readonly t: 'log'; readonly unit: number; readonly level: string; readonly text: string };

/**
 * A batch whose payloads travel as a Latin-1 string goes as one string too:
 * `B${id} ${version} ${count} ${now} ${json.length}\n${json}${payloads}`.
 */
export function encodeBatch(id: number, version: number, count: number, now: number, json: string, payloads: string): string {
  return `B${id} ${version} ${count} ${now} ${json.length}\n${json}${payloads}`;
}

export function decodeBatch(s: string): Extract<Request, { op: 'batch' }> {
  const nl = s.indexOf('\n');
  const [id, version, count, now, len] = s.slice(1, nl).split(' ').map(Number) as [number, number, number, number, number];
  const end = nl + 1 + len;
  return { op: 'batch', id, version, count, now, json: s.slice(nl + 1, end), payloads: s.slice(end) };
}


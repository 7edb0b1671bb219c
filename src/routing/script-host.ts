/**
 * The pipeline's view of the scripting stage (implemented in scripting/).
 * Routing never imports isolated-vm; it asks a ScriptHost for decisions.
 */
import type { TgErrorCode } from '../error-codes.js';
import type { Admission, ClientInfo, Envelope, Reply } from '../envelope/index.js';
import type { Decision } from './decision.js';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { ScriptStateStore } from '../state/index.js';

export type ScriptResult =
  | { readonly ok: true; readonly decisions: readonly Decision[] }
  /**
   * `code` is TG_ERR_SCRIPT_THREW, TG_ERR_SCRIPT_TIMEOUT, TG_ERR_SCRIPT_MEMORY, TG_ERR_SCRIPT_INVALID_DECISION,
   * TG_ERR_SCRIPT_THROTTLED or TG_ERR_SCRIPT_SUSPENDED (with `retryAfterMs`: the script is not run until then).
   */
  | { readonly ok: false; readonly code: TgErrorCode; readonly reason: string; readonly retryAfterMs?: number };

/** A failed script call (the `ok: false` branch of ScriptResult). */
export type ScriptFailure = Extract<ScriptResult, { readonly ok: false }>;

/** A back-end response as a script's `onResponse` sees it. */
export interface ScriptResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** One loaded script, as the admin API shows it. */
export interface ScriptInfo {
  /** The path as written in routes. */
  readonly script: string;
  readonly file: string;
  /** Increases with every version swapped in. */
  readonly version: number;
  /** Why the last reload was refused, until a version is swapped in. */
  readonly compileError?: string;
}

export interface ScriptHost {
  /** Every loaded script (admin API). */
  inspect?(): ScriptInfo[];
  /** Re-reads one script's file now and swaps in a version that compiles; undefined when no such script. */
  reloadScript?(script: string): Promise<ScriptInfo | undefined>;
  /** Runs `onMessage` of the script at `script` (a path as written in the route). Never rejects. */
  onMessage(script: string, envelope: Envelope): Promise<ScriptResult>;
  /** Runs `onResponse` when the script exports it; undefined = keep the back-end's response as the reply; a ScriptFailure when it failed. Never rejects. */
  onResponse(script: string, response: ScriptResponse, envelope: Envelope): Promise<Reply | ScriptFailure | undefined>;
  /** Admission through scripts exporting `onConnect`. Never rejects. */
  onConnect(client: ClientInfo): Promise<Admission>;
  /** Stops watching files and disposes isolates. */
  close(): Promise<void>;
}

/** What the gateway lends every script host it builds. */
export interface ScriptHostContext {
  /** Script `ctx.state` shared between nodes (the redis state backend); absent, each node keeps its own. */
  readonly sharedState?: ScriptStateStore;
}

/** Builds the script host for a configuration that names scripts (scripting/ provides it; the composition root calls it). */
export type ScriptHostFactory = (
  config: GatewayConfig,
  logger: Logger,
  metrics: Metrics,
  previous?: ScriptHost,
  context?: ScriptHostContext,
) => Promise<ScriptHost>;

/**
 * Errors and failure codes of the scripting stage. A failing call never
 * throws into the pipeline: it becomes a `ScriptFailure` carrying one of these
 * codes; only compiling a script (start-up, reload) throws.
 */
import { ConfigError } from '../errors.js';

/** Stable codes of script failures (the pipeline maps them to outcomes). */
export const SCRIPT_CODES = {
  threw: 'TG_ERR_SCRIPT_THREW',
  timeout: 'TG_ERR_SCRIPT_TIMEOUT',
  memory: 'TG_ERR_SCRIPT_MEMORY',
  invalid: 'TG_ERR_SCRIPT_INVALID_DECISION',
  throttled: 'TG_ERR_SCRIPT_THROTTLED',
  suspended: 'TG_ERR_SCRIPT_SUSPENDED',
} as const;

export type ScriptCode = (typeof SCRIPT_CODES)[keyof typeof SCRIPT_CODES];

/** A failed call: what the device's outcome carries. */
export interface ScriptFailure {
  readonly ok: false;
  readonly code: ScriptCode;
  readonly reason: string;
  /** TG_ERR_SCRIPT_SUSPENDED: when the script runs again. */
  readonly retryAfterMs?: number;
}

/**
 * A script file could not be read, compiled or evaluated, or exports no
 * `onMessage`. It is a configuration error (TG_ERR_CONFIG_INVALID): the
 * gateway refuses to start, or a reload is refused and the running
 * configuration stays.
 */
export class ScriptCompileError extends ConfigError {
  constructor(
    readonly script: string,
    /** What went wrong, without the script's name. */
    readonly detail: string,
    cause?: unknown,
  ) {
    const text = `script '${script}': ${detail}`;
    super(text, [text], cause);
    this.name = 'ScriptCompileError';
  }
}

export function failure(code: ScriptCode, reason: string, retryAfterMs?: number): ScriptFailure {
  return retryAfterMs === undefined ? { ok: false, code, reason } : { ok: false, code, reason, retryAfterMs };
}

/** `file:line` of the first stack frame inside the script, for logs. */
export function scriptLine(stack: string, filename: string): number | undefined {
  const i = stack.indexOf(filename);
  if (i < 0) return undefined;
  const m = /^:(\d+):\d+/.exec(stack.slice(i + filename.length));
  return m ? Number(m[1]) : undefined;
}

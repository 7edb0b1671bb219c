/**
 * Builds the script host for a configuration (isolated-vm engine). On reload
 * the previous host's units are reused: an unchanged script keeps its isolate
 * and state, a changed one is compiled aside and swapped in (or refused,
 * keeping the running version). A script that is new in this configuration
 * and does not compile fails the whole build, so a reload is refused and the
 * running configuration stays.
 */
import { resolve } from 'node:path';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from 'pino';
import type { Metrics } from '../observability/metrics.js';
import type { ScriptHost, ScriptHostContext, ScriptHostFactory } from '../routing/script-host.js';
import { IsolateScriptHost } from './host.js';
import { ScriptUnit } from './unit.js';
import { ScriptThreads } from './thread.js';
import { SharedScriptState } from './shared-state.js';

export interface ScriptHostOptions {
  /** Injected clock for `ctx.now()`, limiters and throttles (tests). */
  readonly now?: () => number;
  /** How long a replaced version stays for late `onResponse` calls (default 30 s). */
  readonly retireAfterMs?: number;
}

/** The factory the gateway calls at start and on every reload. */
export function createScriptHostFactory(options: ScriptHostOptions = {}): ScriptHostFactory {
  return (config, logger, metrics, previous, context): Promise<ScriptHost> => buildScriptHost(config, logger, metrics, previous, options, context);
}

/**
 * Builds a host once every script has compiled in its thread (the running
 * configuration serves meanwhile); rejects with ScriptCompileError
 * (TG_ERR_CONFIG_INVALID) when a new script does not compile.
 */
export async function buildScriptHost(
  config: GatewayConfig,
  logger: Logger,
  metrics: Metrics,
  previous?: ScriptHost,
  options: ScriptHostOptions = {},
  context: ScriptHostContext = {},
): Promise<IsolateScriptHost> {
  const byAbs = new Map<string, ScriptUnit>();
  if (previous instanceof IsolateScriptHost) for (const u of previous.units.values()) byAbs.set(u.absPath, u);
  const threads = previous instanceof IsolateScriptHost ? previous.threads : new ScriptThreads(config.scripts.threads);
  threads.size = config.scripts.threads;
  // One per gateway, carried from host to host like the threads.
  const shared =
    previous instanceof IsolateScriptHost && previous.shared
      ? previous.shared
      : context.sharedState && new SharedScriptState(context.sharedState, logger.child({ part: 'shared-state' }));
  const units = new Map<string, ScriptUnit>();
  const created: ScriptUnit[] = [];
  const retained = new Set<ScriptUnit>();
  try {
    for (const r of config.routes) {
      if (r.script === undefined || units.has(r.script)) continue;
      const absPath = resolve(config.baseDir, r.script);
      let unit = [...units.values()].find((u) => u.absPath === absPath) ?? byAbs.get(absPath);
      if (unit && !retained.has(unit) && !created.includes(unit)) {
        retained.add(unit);
        await unit.refresh(config.scripts);
      } else if (!unit) {
        unit = await ScriptUnit.create({
          name: r.script,
          absPath,
          config: config.scripts,
          logger,
          metrics,
          threads,
          ...(shared && { shared }),
          ...(options.now !== undefined && { now: options.now }),
          ...(options.retireAfterMs !== undefined && { retireAfterMs: options.retireAfterMs }),
        });
        created.push(unit);
      }
      units.set(r.script, unit);
    }
  } catch (err) {
    await Promise.all(created.map((u) => u.close()));
    throw err;
  }
  for (const u of new Set(units.values())) u.hold();
  return new IsolateScriptHost(units, IsolateScriptHost.admissionFor(config.routes, units), threads, shared);
}

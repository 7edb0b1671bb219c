/**
 * rhea's own output, routed through the gateway's JSON log. rhea writes with
 * the `debug` package (namespaces `rhea:*`, silent unless the DEBUG
 * environment variable names them) and, for some frames a peer sends, with
 * console.error / console.warn directly (a transfer beyond the link's credit
 * writes one line per frame). Those plain-text lines would land in the middle
 * of the JSON log, and a peer could write them at will.
 *
 * - `debug` output becomes debug-level lines (`lib: "rhea"`, `namespace`).
 * - rhea's console lines become warn-level lines (`lib: "rhea"`); a line that
 *   repeats (numbers aside) is logged once, then summarised once per
 *   interval, like security events. Console calls from anywhere else pass
 *   through untouched.
 *
 * rhea is one per process, so this is process-wide: installed while at least
 * one AMQP listener runs, writing to the most recently started one's logger.
 */
import { createRequire } from 'node:module';
import { format } from 'node:util';
import type { Logger } from 'pino';
import { RepeatFilter } from '../../guard/repeats.js';

/** The part of a `debug` instance (debug 4) this module sets. */
interface DebugInstance {
  readonly namespace: string;
  useColors: boolean;
  log?: (...args: unknown[]) => void;
}

type ConsoleMethod = (...args: unknown[]) => void;

const sinks: Logger[] = [];
let uninstall: (() => void) | undefined;

/**
 * Sends rhea's output to `logger` until the returned function is called
 * (listener stop); the last one restores rhea's and the console's own.
 * Repeated console lines are summarised every `summaryIntervalMs` (the
 * security events' interval when the first listener started; 0: none).
 */
export function routeRheaLogging(logger: Logger, summaryIntervalMs: number): () => void {
  const sink = logger.child({ lib: 'rhea' });
  sinks.push(sink);
  uninstall ??= install(summaryIntervalMs);
  return () => {
    const i = sinks.indexOf(sink);
    if (i < 0) return;
    if (sinks.length === 1 && uninstall) {
      // Uninstalled while the last sink is still there, so the pending summaries reach it.
      uninstall();
      uninstall = undefined;
    }
    sinks.splice(i, 1);
  };
}

function current(): Logger | undefined {
  return sinks.at(-1);
}

function install(summaryIntervalMs: number): () => void {
  // rhea keeps its debug instances in lib/log.js, one per namespace; setting `log` on an instance redirects only it.
  const require = createRequire(import.meta.url);
  const instances = Object.values(require('rhea/lib/log.js') as Record<string, DebugInstance>);
  const saved = instances.map((d) => ({ d, log: d.log, useColors: d.useColors }));
  for (const d of instances) {
    d.useColors = false;
    d.log = (...args: unknown[]) => current()?.debug({ namespace: d.namespace }, withoutPrefix(format(...args), d.namespace));
  }

  const repeats = new RepeatFilter(summaryIntervalMs, (s) =>
    current()?.warn({ suppressed: s.suppressed, last: s.lastDetail }, `rhea: ${s.suppressed} more lines like this not logged: ${s.clause ?? ''}`),
  );
  const divert = (original: ConsoleMethod): ConsoleMethod =>
    function (this: Console, ...args: unknown[]): void {
      const sink = current();
      if (!sink || !calledFromRhea()) {
        original.apply(this, args);
        return;
      }
      const text = format(...args);
      if (repeats.first({ listener: '', kind: 'rhea', clause: text.replace(/\d+/g, 'N'), detail: text })) sink.warn(text);
    };
  const { error, warn } = console;
  console.error = divert(error);
  console.warn = divert(warn);

  return () => {
    console.error = error;
    console.warn = warn;
    for (const { d, log, useColors } of saved) {
      d.useColors = useColors;
      if (log === undefined) delete d.log;
      else d.log = log;
    }
    repeats.flush();
  };
}

/** Whether the console call being diverted was made by rhea's code (read from the stack; console calls are rare). */
function calledFromRhea(): boolean {
  return /[\\/]node_modules[\\/]rhea[\\/]/.test(new Error().stack ?? '');
}

/** debug's non-colour format starts "<ISO date> <namespace> "; the log line has its own time and the namespace as a field. */
function withoutPrefix(text: string, namespace: string): string {
  const at = text.indexOf(`${namespace} `);
  return at >= 0 && at <= 30 ? text.slice(at + namespace.length + 1) : text;
}

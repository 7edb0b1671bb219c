/**
 * Helpers for the scripting tests: scripts written to a temporary folder, a
 * script host built from a configuration object, envelopes, and a log sink.
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logSink, type LogSink } from '../../helpers/log-sink.js';
import { expect } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { Envelope } from '../../../src/envelope/index.js';
import { testEnvelope } from '../../helpers/envelope.js';
import { Metrics } from '../../../src/observability/metrics.js';
import { buildScriptHost, type ScriptHostOptions } from '../../../src/scripting/factory.js';
import type { IsolateScriptHost } from '../../../src/scripting/host.js';
import type { ScriptThread } from '../../../src/scripting/thread.js';
import type { ScriptUnit } from '../../../src/scripting/unit.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import type { ScriptResult } from '../../../src/routing/script-host.js';
import { threadsUnderTest } from '../../helpers/script-threads.js';

export class ScriptDir {
  readonly path = mkdtempSync(join(tmpdir(), 'tg-scripts-'));
  write(name: string, source: string): string {
    writeFileSync(join(this.path, name), source);
    return name;
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export { logSink, type LogSink };

export function configFor(dir: ScriptDir, scripts: string[], section: Record<string, unknown> = {}): GatewayConfig {
  return parseConfig(
    {
      listeners: [],
      pools: [{ name: 'p', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
      routes: scripts.map((s, i) => ({ match: { address: `s${i}/#` }, pool: 'p', script: s })),
      // isolated-vm's time limit is wall-clock time: on a loaded machine a trivial call can
      // take longer than the 50 ms default, so tests not about timeouts give scripts a second.
      scripts: { watch: false, timeoutMs: 1000, ...threadsUnderTest(), ...section },
    },
    { baseDir: dir.path, env: {} },
  );
}

export interface Built {
  readonly host: IsolateScriptHost;
  readonly metrics: Metrics;
  readonly log: LogSink;
}

export async function build(
  config: GatewayConfig,
  options: ScriptHostOptions = {},
  previous?: IsolateScriptHost,
  log = logSink(),
  metrics = new Metrics(),
): Promise<Built> {
  return { host: await buildScriptHost(config, log.logger, metrics, previous, options), metrics, log };
}

export const envelope = testEnvelope;

export function fromClient(clientId: string, address: string, payload = ''): Envelope {
  return envelope(address, payload, { source: { clientId, remoteAddress: '127.0.0.1' } });
}

/** A Prometheus counter's value for the given labels. */
export async function counter(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)?.get();
  const v = m?.values.find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

/**
 * Runs `p` (a function is called once the timer runs, so its own synchronous
 * part counts) and reports the largest delay of an `everyMs` interval timer
 * meanwhile: how long the event loop was held at a stretch.
 */
export async function timerLag<T>(p: Promise<T> | (() => Promise<T>), everyMs = 5): Promise<{ value: T; lagMs: number; elapsedMs: number }> {
  let worst = 0;
  let last = performance.now();
  const t = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last - everyMs);
    last = now;
  }, everyMs);
  const t0 = performance.now();
  try {
    const value = await (typeof p === 'function' ? p() : p);
    const elapsedMs = performance.now() - t0;
    // Let the timer tick once more, so a stall that ended with `p` is counted too.
    await new Promise((r) => setTimeout(r, 20));
    return { value, lagMs: worst, elapsedMs };
  } finally {
    clearInterval(t);
  }
}

/** The thread a script runs on (private to the unit; tests look at it, or stop it on purpose). */
export function threadOf(unit: ScriptUnit): ScriptThread {
  return (unit as unknown as { thread: ScriptThread }).thread;
}

/** Stops the thread a script runs on as if it had died: its worker, or the inline thread, is terminated. */
export function stopThreadOf(unit: ScriptUnit): Promise<number> {
  return (threadOf(unit) as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
}

/**
 * Stops the thread `script` runs on and checks that it is replaced: the old
 * version is dead, the next message runs on a recompiled one with the
 * decision `expected`, and the loss is logged.
 */
export async function expectReplacedAfterThreadStop({ host, log }: Built, script: string, expected: unknown): Promise<void> {
  const unit = host.units.get(script)!;
  const before = unit.version;
  await stopThreadOf(unit);
  expect(before.alive).toBe(false);
  expect(await host.onMessage(script, envelope('s0/x'))).toMatchObject({ ok: true, decisions: [expected] });
  expect(unit.version).not.toBe(before);
  expect(log.lines.some((l) => l.msg === 'script thread stopped; starting a new one (ctx.state is lost)')).toBe(true);
}

/** What a test reads of a decision: its action, a drop's reason, a reply's payload. */
export interface DecisionView {
  readonly action: string;
  readonly reason?: string;
  readonly payload?: Buffer;
}

/** The first decision of a successful script call; a failed call fails the test with its code. */
export function firstDecision(r: ScriptResult): DecisionView {
  if (!r.ok) throw new Error(`script call failed: ${r.code}: ${r.reason}`);
  return r.decisions[0] as DecisionView;
}

/** The first decision's payload as text (a `reply()` from the script). */
export function replyText(r: ScriptResult): string {
  return Buffer.from(firstDecision(r).payload!).toString();
}

/**
 * Starts a real gateway for a test from a configuration object (validated
 * like a file). Listeners should use port 0; `port(name)` gives the bound one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Gateway } from '../../src/gateway.js';
import { parseConfig } from '../../src/config/load.js';
import { parseConfigWithPlugins } from '../../src/plugins/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { threadsUnderTest } from './script-threads.js';
import { createScriptHostFactory } from '../../src/scripting/factory.js';

export interface TestGateway {
  readonly gateway: Gateway;
  /** Every log line written so far, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  port(listener: string): number;
  /** thinggate_guard_events_total of one kind (or all) and listener (or all): every event, logged or summarised. */
  guardEvents(kind?: string, listener?: string): Promise<number>;
  stop(): Promise<void>;
}

export interface StartOptions {
  baseDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Reads the configuration again for the admin API's reload. */
  configLoader?: () => GatewayConfig;
}

export async function startGateway(raw: unknown, options: StartOptions = {}): Promise<TestGateway> {
  const r = raw as { scripts?: Record<string, unknown>; log?: Record<string, unknown> };
  if (r.scripts !== undefined) raw = { ...r, scripts: { ...threadsUnderTest(), ...r.scripts } };
  // Every security event gets its own log line, so a test can find each one; tests of the repeat summaries set an interval.
  raw = { ...(raw as object), log: { securitySummaryIntervalMs: 0, ...r.log } };
  // Dynamic bans persist under guard.stateDir (default .thinggate in the base directory): each test
  // gateway gets its own, so a ban one test provokes never refuses another test's clients.
  const guard = (raw as { guard?: Record<string, unknown> }).guard;
  const ownStateDir = guard?.stateDir === undefined ? mkdtempSync(join(tmpdir(), 'tg-guard-')) : undefined;
  if (ownStateDir) raw = { ...(raw as object), guard: { ...guard, stateDir: ownStateDir } };
  const parseOptions = { source: '<test>', baseDir: options.baseDir ?? process.cwd(), env: options.env ?? process.env };
  // A configuration with plugins loads them (asynchronously) into registries of its own.
  const { config, registries } =
    (raw as { plugins?: unknown }).plugins !== undefined
      ? await parseConfigWithPlugins(raw, parseOptions)
      : { config: parseConfig(raw, parseOptions), registries: undefined };
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: process.env.THINGGATE_TEST_LOG_LEVEL ?? 'debug' }, sink);
  const factory = createScriptHostFactory();
  const gateway = new Gateway(config, {
    logger,
    ...(factory && { scriptHostFactory: factory }),
    ...(registries && { registries }),
    ...(options.configLoader && { configLoader: options.configLoader }),
  });
  await gateway.start();
  return {
    gateway,
    logs,
    port: (name) => gateway.address(name).port,
    guardEvents: async (kind, listener) => {
      const metric = gateway.metrics.registry.getSingleMetric('thinggate_guard_events_total');
      const values = metric ? (await metric.get()).values : [];
      return values
        .filter((v) => (kind === undefined || v.labels.kind === kind) && (listener === undefined || v.labels.listener === listener))
        .reduce((n, v) => n + v.value, 0);
    },
    stop: async () => {
      await gateway.stop({ drain: false });
      if (ownStateDir) rmSync(ownStateDir, { recursive: true, force: true });
    },
  };
}

#!/usr/bin/env -S node --no-node-snapshot --max-semi-space-size=32
// Node flags on the line above: isolated-vm needs --no-node-snapshot on Node >= 20;
// --max-semi-space-size=32 lets messages in flight die young instead of being copied out
// of a 16 MiB young generation, about a quarter less CPU per message (bench/RESULTS.md, mqtt-path).
/**
 * thinggate command line.
 *   thinggate start [-c FILE]          run the gateway (embedded default without -c)
 *   thinggate check -c FILE            validate a configuration; exit 0 when valid, 2 when not
 *   thinggate schema                   print the configuration's JSON Schema
 *   thinggate --version | help         the version; usage (`--help` after any command: its own)
 * Exit codes: 0 ok, 1 runtime failure, 2 invalid configuration or usage.
 */
import { parseArgs } from 'node:util';
import { defaultConfig, configSchema, type GatewayConfig } from './config/index.js';
import { buildConfigSchema } from './config/schema.js';
import { loadConfig, type LoadedConfig } from './plugins/load.js';
import { builtinRegistries } from './plugins/builtins.js';
import { createRequire } from 'node:module';
import { ConfigError, ThinggateError } from './errors.js';
import { deepCheck } from './cli-check.js';
import { createLogger } from './observability/logger.js';
import { SUBCOMMANDS } from './cli-commands.js';
import { stateProblems } from './config/sections/state.js';

const VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** Usage of each built-in command, for `thinggate COMMAND --help`. */
const COMMAND_USAGE: Record<string, string> = {
  start: `usage: thinggate start [-c FILE] [--workers N]
  Runs the gateway on FILE (YAML or JSON), or on the embedded default without -c.
  --workers N runs N worker processes on the same sockets (overrides the file's workers:;
  more than 1 needs state.backend redis; see docs/scaling.md).
  Logs go to standard output (THINGGATE_LOG_LEVEL, THINGGATE_LOG_FORMAT=pretty).
  SIGTERM/SIGINT drain and exit 0; SIGHUP reloads FILE.
  Exit codes: 0 after a clean drain, 1 when it cannot start, 2 on an invalid configuration.`,
  check: `usage: thinggate check -c FILE
  Validates FILE: schema, references between sections, TLS files and routing scripts.
  Prints every problem with its JSON path (and line, for YAML). Exit 0 valid, 2 invalid.`,
  schema: `usage: thinggate schema [-c FILE]
  Prints the configuration's JSON Schema; with -c, including the schemas of FILE's plugins.`,
};

const USAGE = `usage:
  thinggate start [-c FILE] [--workers N]
                                run the gateway (the embedded default when no file is given)
  thinggate check -c FILE       validate a configuration file (exit 0 valid, 2 invalid)
  thinggate schema [-c FILE]    print the configuration JSON Schema (with FILE: including its plugins' schemas)
  thinggate --version           print the version
  thinggate COMMAND --help      help on one command
${Object.values(SUBCOMMANDS)
  .map((c) => `  ${c.usage}`)
  .join('\n')}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    const usage = COMMAND_USAGE[command] ?? SUBCOMMANDS[command]?.usage;
    if (usage !== undefined) {
      process.stdout.write(`${usage.startsWith('usage:') ? usage : `usage: ${usage}`}\n`);
      return 0;
    }
  }
  switch (command) {
    case '--version':
    case '-v':
    case 'version':
      process.stdout.write(`thinggate ${VERSION}\n`);
      return 0;
    case 'start':
      return start(rest);
    case 'check':
      return check(rest);
    case 'schema':
      return schema(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default: {
      const sub = SUBCOMMANDS[command];
      if (sub) return sub.run(rest);
      process.stderr.write(`thinggate: unknown command '${command}'\n${USAGE}\n`);
      return 2;
    }
  }
}

function configOption(args: string[], required: boolean): string | undefined {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, allowPositionals: false });
  if (required && !values.config) throw new UsageError('-c FILE is required');
  return values.config;
}

class UsageError extends Error {}

async function readConfig(file: string | undefined): Promise<LoadedConfig> {
  return file === undefined ? { config: defaultConfig(), registries: builtinRegistries() } : loadConfig(file);
}

async function schema(args: string[]): Promise<number> {
  const file = configOption(args, false);
  if (file === undefined) {
    process.stdout.write(`${JSON.stringify(configSchema, null, 2)}\n`);
    return 0;
  }
  return withConfig(file, ({ registries }) => `${JSON.stringify(buildConfigSchema(registries.catalog()), null, 2)}\n`);
}

async function check(args: string[]): Promise<number> {
  const file = configOption(args, true)!;
  return withConfig(file, async ({ config: c, registries }) => {
    const problems = await deepCheck(c, registries);
    if (problems.length > 0) throw new ConfigError(`${problems.length} problem(s)`, problems);
    const plugins = registries.plugins().length;
    return `${file}: valid (${c.listeners.length} listeners, ${c.pools.length} pools, ${c.routes.length} routes${plugins ? `, ${plugins} plugins` : ''})\n`;
  });
}

/** Loads `file` with its plugins and prints `render(...)`: exit 0, or every problem and exit 2. */
async function withConfig(file: string, render: (loaded: LoadedConfig) => string | Promise<string>): Promise<number> {
  try {
    process.stdout.write(await render(await loadConfig(file)));
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.problems.join('\n')}\n`);
      return 2;
    }
    throw err;
  }
}

async function start(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, workers: { type: 'string' } }, allowPositionals: false });
  const file = values.config;
  if (values.workers !== undefined && !(/^[1-9]\d?$/.test(values.workers) && Number(values.workers) <= 64))
    throw new UsageError('--workers N: N is a whole number from 1 to 64');
  let config: GatewayConfig;
  let registries: LoadedConfig['registries'];
  let workers: number;
  try {
    ({ config, registries } = await readConfig(file));
    workers = values.workers !== undefined ? Number(values.workers) : config.workers;
    const problems = stateProblems({ ...config, workers }).map((p) => (values.workers !== undefined ? p.replace('/workers', '--workers') : p));
    if (problems.length > 0) throw new ConfigError(problems.join('\n'), problems);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`thinggate: ${err.problems.join('\n')}\n`);
      return 2;
    }
    throw err;
  }
  const logger = createLogger({ level: process.env.THINGGATE_LOG_LEVEL ?? config.log.level, format: config.log.format });
  // Loaded here, not at the top: check, schema and the other commands need neither the gateway nor the Redis client.
  const [{ Gateway }, { isWorker, joinPrimary, runPrimary, workerConfig }] = await Promise.all([import('./gateway.js'), import('./cluster/workers.js')]);
  if (workers > 1 && !isWorker()) return runPrimary({ config, workers, logger });
  const worker = isWorker();
  if (worker) config = workerConfig(config);
  const { createScriptHostFactory } = await import('./scripting/factory.js');
  const gateway = new Gateway(config, {
    logger,
    scriptHostFactory: createScriptHostFactory(),
    registries,
    ...(file !== undefined && {
      configLoader: async () => {
        const next = await loadConfig(file, process.env, logger);
        return worker ? { ...next, config: workerConfig(next.config) } : next;
      },
    }),
  });
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection (a bug; the gateway keeps running)'));
  try {
    await gateway.start();
  } catch (err) {
    if (err instanceof ConfigError) {
      // A script that does not compile: a configuration problem like any other (exit 2, each problem once, no stack).
      logger.flush();
      process.stderr.write(`thinggate: ${err.problems.join('\n')}\n`);
      return 2;
    }
    // Known failures (a port in use, unreadable TLS material) are stated, not traced.
    logger.fatal(err instanceof ThinggateError ? { code: err.code, reason: err.message } : { err }, 'thinggate could not start');
    logger.flush();
    return 1;
  }
  if (worker) joinPrimary(gateway.metrics, gateway.adminAddress() ? `http://127.0.0.1:${gateway.adminAddress()!.port}` : undefined);
  let reloading = Promise.resolve();
  process.on('SIGHUP', () => {
    reloading = reloading.then(async () => {
      if (file === undefined) {
        logger.info('SIGHUP: running on the embedded default; nothing to reload');
        return;
      }
      try {
        const next = await loadConfig(file, process.env, logger);
        await gateway.reload(worker ? workerConfig(next.config) : next.config, next.registries);
      } catch (err) {
        logger.error({ err, problems: err instanceof ConfigError ? err.problems : undefined }, 'reload refused: keeping the running configuration');
      }
    });
  });
  return new Promise<number>((resolve) => {
    let signalled = false;
    const onSignal = (signal: string): void => {
      if (signalled) {
        logger.warn({ signal }, 'second signal: stopping at once');
        resolve(1);
        return;
      }
      signalled = true;
      logger.info({ signal }, 'draining: no new connections, finishing in-flight messages');
      gateway.stop({ drain: true }).then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, 'stop failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  }).then((code) => {
    logger.flush();
    return code;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Listeners are closed; let pending log writes finish, then exit even if a timer lingers.
    setTimeout(() => process.exit(code), 200).unref();
  },
  (err: unknown) => {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`thinggate: ${(err as Error).message}\n${USAGE}\n`);
      process.exit(2);
    }
    process.stderr.write(`thinggate: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);

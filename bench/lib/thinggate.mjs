/**
 * Starts thinggate (the built `dist/`) as a child process with a generated
 * configuration: one listener on a free loopback port, pool `default`
 * pointing at the bench back-end, and every message routed by the trivial
 * script `export function onMessage(msg) { return route('default') }`.
 * When the build has no script host, the same route is configured statically
 * and the result says so.
 *
 * `startGateway` starts a gateway on a bench's own configuration instead
 * (bench/commands, bench/sessions), from this build or another build's
 * folder (`--base DIR`, parsed by `parseBuildArgs`), and `alternate` runs
 * the arms of such a comparison in alternating rounds.
 */
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, isAlive, spawnSupervised, stopChild, waitForPort } from './proc.mjs';

/**
 * The V8 flags the thinggate bin and `npm start` run the gateway under (see
 * src/cli.ts). Every bench starts it so: at 15,000 msg/s V8's default young
 * generation promotes messages still in flight, and the scavenges that copy
 * them raised publish→PUBACK p99 from ~3.5 ms to ~25–30 ms (bench/mqtt-path).
 */
export const GATEWAY_NODE_ARGS = Object.freeze(['--no-node-snapshot', '--max-semi-space-size=32']);

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/**
 * The build to measure: `dist/` unless THINGGATE_BENCH_DIST names another
 * output directory of `tsc` (it must sit inside the repository, for example
 * under node_modules/.cache/, so that the build finds its dependencies).
 */
const CLI = join(process.env.THINGGATE_BENCH_DIST ? resolve(ROOT, process.env.THINGGATE_BENCH_DIST) : join(ROOT, 'dist'), 'cli.js');
/** How long thinggate may take to listen: a gateway with script threads starts slowly on a loaded host. */
const START_TIMEOUT_MS = 60_000;

export const ROUTE_SCRIPT = "export function onMessage(msg) { return route('default'); }\n";

/**
 * @param {{url:string}} backend
 * @param {{protocol?:string, routing?:'script'|'static', pool?:object, listener?:object,
 *          scripts?:object, admin?:object, acl?:object[], files?:Record<string,string>, cpuProf?:string, fdLimit?:number, label?:string, dist?:string,
 *          plugins?:string[], pluginsDir?:string, route?:object, guard?:object, state?:object, args?:string[], startTimeoutMs?:number}} opts
 *        `acl`: the top-level ACL; `files`: more files (e.g. a credentials file) written beside the configuration;
 *        `route`: keys merged into the one route (e.g. `schema`, `decode`; a static route's `request` is merged key by key).
 *        `dist`: another `tsc` output directory inside the repository to run instead of the default build;
 *        `plugins`: folders under plugins/ (or under `pluginsDir`, for another version of them) to load; `guard`: the guard section (e.g. accept-rate limits off for a connection-rate bench).
 *        `state`: the state section (bench/scenarios/cluster.mjs); `args`: more `thinggate start` arguments (`--workers N`); `startTimeoutMs`: how long the listener may take to appear (default 60 s).
 */
export async function startThinggate(backend, opts = {}) {
  const cli = opts.dist ? join(resolve(ROOT, opts.dist), 'cli.js') : CLI;
  const protocol = opts.protocol ?? 'mqtt';
  let routing = opts.routing ?? 'script';
  for (;;) {
    const port = await freePort();
    const config = {
      ...(opts.plugins && { plugins: opts.plugins.map((p) => ({ use: join(opts.pluginsDir ? resolve(ROOT, opts.pluginsDir) : join(ROOT, 'plugins'), p) })) }),
      listeners: [{ name: protocol, protocol, host: '127.0.0.1', port, ...(opts.listener ?? {}) }],
      pools: [{ name: 'default', endpoints: [{ url: backend.url }], ...(opts.pool ?? {}) }],
      routes: [
        routing === 'script'
          ? { match: { address: '#' }, script: 'route.js', ...(opts.route ?? {}) }
          : {
              match: { address: '#' },
              pool: 'default',
              ...(opts.route ?? {}),
              request: { method: 'POST', path: '/messages/{address}', ...opts.route?.request },
            },
      ],
      ...(opts.scripts && { scripts: opts.scripts }),
      ...(opts.admin && { admin: opts.admin }),
      ...(opts.acl && { acl: opts.acl }),
      ...(opts.state && { state: opts.state }),
      ...(opts.guard && { guard: opts.guard }),
      log: { level: 'warn' },
      shutdown: { drainTimeoutMs: 2000 },
    };
    const { child, dir, logFile, nodeArgs } = await launch(cli, config, {
      ...opts,
      label: opts.label ?? protocol,
      files: { 'route.js': ROUTE_SCRIPT, ...opts.files },
    });
    try {
      if (protocol === 'coap') await waitForUdp(child, logFile);
      else await waitForPort(port, { child, timeoutMs: opts.startTimeoutMs ?? START_TIMEOUT_MS });
    } catch (err) {
      await stopChild(child);
      const log = readFileSync(logFile, 'utf8');
      rmSync(dir, { recursive: true, force: true });
      if (routing === 'script' && /no script host/.test(log) && opts.routing === undefined) {
        // No script host in this build: measure the static route and say so.
        routing = 'static';
        continue;
      }
      throw new Error(`${err.message}\n--- thinggate log (${logFile}) ---\n${log.slice(-3000)}`);
    }
    return {
      port,
      dir,
      logFile,
      routing,
      config,
      pid: child.targetPid,
      pids: () => [child.targetPid],
      alive: () => isAlive(child),
      notes: [
        routing === 'script'
          ? "routing: trivial script route('default')"
          : opts.routing === 'static'
            ? 'routing: static route'
            : 'routing: static route (no script host in this build)',
        `node ${nodeArgs.filter((a) => !a.startsWith('--cpu-prof')).join(' ')}`,
      ],
      async stop() {
        await stopChild(child, 8000);
        // Keep the directory (config, log) only when asked to.
        if (!process.env.THINGGATE_BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
      },
      log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    };
  }
}

/**
 * Writes `config` (and `files`) to a fresh folder and starts `cli` on it
 * under GATEWAY_NODE_ARGS (plus TG_EXTRA_NODE_ARGS), supervised, its output
 * in thinggate.log there.
 * @param {string} cli
 * @param {object} config
 * @param {{ label?: string, fdLimit?: number, cpuProf?: string, args?: string[], files?: Record<string, string> }} opts
 */
async function launch(cli, config, opts) {
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
  const dir = mkdtempSync(join(tmpdir(), 'thinggate-bench-'));
  for (const [name, text] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'thinggate.json'), JSON.stringify(config, null, 2));
  const logFile = join(dir, 'thinggate.log');
  const nodeArgs = [...GATEWAY_NODE_ARGS, ...(process.env.TG_EXTRA_NODE_ARGS ? process.env.TG_EXTRA_NODE_ARGS.split(' ') : [])];
  if (opts.cpuProf) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProf}`);
  const child = await spawnSupervised(process.execPath, [...nodeArgs, cli, 'start', '-c', join(dir, 'thinggate.json'), ...(opts.args ?? [])], {
    cwd: dir,
    name: `thinggate(${opts.label})`,
    fdLimit: opts.fdLimit,
    logFile,
  });
  return { child, dir, logFile, nodeArgs };
}

/**
 * The `cli.js` to run: this tree's build (see CLI) or, with `base`, the one
 * of another build's folder (a tree with its `dist/` and a `node_modules/`,
 * e.g. a `git worktree` of an older commit with node_modules linked in).
 * @param {string} [base]
 */
export function buildCli(base) {
  return base === undefined ? CLI : resolve(base, 'dist/cli.js');
}

/**
 * The command line of a bench that compares this build with an older one:
 * the bench's own `options` plus `--base DIR` (see buildCli) and
 * `--rounds N` (default `rounds`). `builds` lists [label, cli] to run:
 * `this` alone, or `base` and `this` with --base.
 * @param {import('node:util').ParseArgsConfig['options']} options
 * @param {{ rounds?: string }} [defaults]
 * @returns {{ values: Record<string, any>, rounds: number, base: string | undefined, builds: Array<[string, string]> }}
 */
export function parseBuildArgs(options, { rounds = '1' } = {}) {
  const { values } = parseArgs({ options: { ...options, base: { type: 'string' }, rounds: { type: 'string', default: rounds } } });
  const base = values.base === undefined ? undefined : buildCli(String(values.base));
  /** @type {Array<[string, string]>} */
  const builds =
    base === undefined
      ? [['this', CLI]]
      : [
          ['base', base],
          ['this', CLI],
        ];
  return { values, rounds: Number(values.rounds), base, builds };
}

/**
 * Runs `run(arm, round)` for every arm, `rounds` times, in reverse order
 * every other round, so that a host slowing down or speeding up touches
 * every arm alike.
 * @template T
 * @param {number} rounds
 * @param {T[]} arms
 * @param {(arm: T, round: number) => Promise<void>} run
 */
export async function alternate(rounds, arms, run) {
  for (let round = 0; round < rounds; round++) {
    for (const arm of round % 2 === 0 ? arms : [...arms].reverse()) await run(arm, round);
  }
}

/** How long startGateway waits for the `thinggate started` line: a gateway starts slowly on a loaded host. */
const STARTED_TIMEOUT_MS = 60_000;

/**
 * Starts the gateway of `cli` (see buildCli) in a fresh folder (the
 * configuration's relative paths, such as guard.stateDir, land there) and
 * waits for its `thinggate started` log line, which names the addresses
 * its listeners and admin API bound. The configuration is `sections`
 * merged over a base (top-level sections replaced): the MQTT listener
 * `mqtt` on a free port, pool `default` at a closed port with every
 * address routed to it, logging at `info` (the line is an info line).
 * `stop(signal)` ends the gateway by PID (SIGKILL by default: a bench
 * wants the next run fresh, not a drained shutdown) and removes the folder
 * unless THINGGATE_BENCH_KEEP is set.
 * @param {object} sections
 * @param {{ cli?: string, label?: string, fdLimit?: number }} [opts]
 */
export async function startGateway(sections, opts = {}) {
  const config = {
    listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
    pools: [{ name: 'default', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
    routes: [{ match: { address: '#' }, pool: 'default' }],
    log: { level: 'info' },
    ...sections,
  };
  const { child, dir, logFile } = await launch(opts.cli ?? CLI, config, { label: opts.label ?? 'gateway', fdLimit: opts.fdLimit });
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  const stop = async (/** @type {NodeJS.Signals} */ signal = 'SIGKILL') => {
    if (isAlive(child)) {
      const exited = once(child, 'exit');
      try {
        process.kill(/** @type {number} */ (child.targetPid), signal);
      } catch {
        // gone already; its supervisor follows
      }
      await exited;
    }
    if (!process.env.THINGGATE_BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  };
  let started;
  try {
    started = await waitForStarted(child, log);
  } catch (err) {
    const text = log();
    await stop();
    throw new Error(`${err.message}\n--- thinggate log (${logFile}) ---\n${text.slice(-3000)}`);
  }
  /** @type {Record<string, number>} */
  const ports = Object.fromEntries(Object.entries(started.listeners ?? {}).map(([name, url]) => [name, Number(String(url).split(':').at(-1))]));
  return {
    dir,
    pid: /** @type {number} */ (child.targetPid),
    ports,
    /** The admin API's base URL, without a trailing slash (when the configuration has one). */
    admin: typeof started.admin === 'string' ? started.admin.replace(/\/$/, '') : undefined,
    log,
    stop,
  };
}

/**
 * @param {import('./proc.mjs').BenchChild} child
 * @param {() => string} log
 * @returns {Promise<{ listeners?: Record<string, string>, admin?: string }>}
 */
async function waitForStarted(child, log) {
  const deadline = Date.now() + STARTED_TIMEOUT_MS;
  for (;;) {
    for (const line of log().split('\n')) {
      if (!line.includes('thinggate started')) continue;
      try {
        const l = JSON.parse(line);
        if (l.msg === 'thinggate started') return l;
      } catch {
        // not a log line
      }
    }
    if (!isAlive(child)) throw new Error(`thinggate exited (${JSON.stringify(child.targetExit ?? child.exitCode)}) before it started`);
    if (Date.now() > deadline) throw new Error(`thinggate did not start within ${STARTED_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** CoAP is UDP: there is no accept to poll; wait for the process to settle and stay up. */
async function waitForUdp(child, logFile) {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    if (child.targetExit) throw new Error(`thinggate exited early: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

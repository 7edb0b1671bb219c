/**
 * Starts thinggate (the built `dist/`) as a child process with a generated
 * configuration: one listener on a free loopback port, pool `default`
 * pointing at the bench back-end, and every message routed by the trivial
 * script `export function onMessage(msg) { return route('default') }`.
 * When the build has no script host, the same route is configured statically
 * and the result says so.
 */
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
  const protocol = opts.protocol ?? 'mqtt';
  let routing = opts.routing ?? 'script';
  for (;;) {
    const dir = mkdtempSync(join(tmpdir(), 'thinggate-bench-'));
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
    writeFileSync(join(dir, 'route.js'), ROUTE_SCRIPT);
    for (const [name, text] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), text);
    writeFileSync(join(dir, 'thinggate.json'), JSON.stringify(config, null, 2));
    const logFile = join(dir, 'thinggate.log');
    const nodeArgs = [...GATEWAY_NODE_ARGS, ...(process.env.TG_EXTRA_NODE_ARGS ? process.env.TG_EXTRA_NODE_ARGS.split(' ') : [])];
    if (opts.cpuProf) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${opts.cpuProf}`);
    const child = await spawnSupervised(process.execPath, [...nodeArgs, cli, 'start', '-c', join(dir, 'thinggate.json'), ...(opts.args ?? [])], {
      cwd: dir,
      name: `thinggate(${opts.label ?? protocol})`,
      fdLimit: opts.fdLimit,
      logFile,
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

/** CoAP is UDP: there is no accept to poll; wait for the process to settle and stay up. */
async function waitForUdp(child, logFile) {
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    if (child.targetExit) throw new Error(`thinggate exited early: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

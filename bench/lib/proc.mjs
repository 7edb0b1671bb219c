/**
 * Child-process bookkeeping for the bench harness. Every process the suite
 * starts is registered here and killed by PID when the suite exits, fails or
 * is interrupted; every child also gets a hard lifetime so that nothing
 * outlives a crashed harness for long.
 */
import { fork, spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { portOf } from './net.mjs';

const SUPERVISOR = fileURLToPath(new URL('./supervise.mjs', import.meta.url));

/** Longest any child may live (ms); a guard, not a measurement bound. */
export const CHILD_MAX_LIFETIME_MS = 20 * 60_000;

/**
 * A child the harness tracks: its name in messages and, for a supervised
 * program, the program's own PID and exit.
 * @typedef {import('node:child_process').ChildProcess & { benchName?: string, targetPid?: number, targetExit?: { type: string, code?: number | null, signal?: string | null } }} BenchChild
 */

/**
 * @typedef {object} ForkOptions
 * @property {string[]} [execArgv]
 * @property {Record<string, string | undefined>} [env]
 * @property {string} [name]
 * @property {boolean} [silent]
 * @property {number} [fdLimit]
 */

/**
 * @typedef {object} SuperviseOptions
 * @property {string} [cwd]
 * @property {Record<string, string | undefined>} [env]
 * @property {string} [name]
 * @property {number} [fdLimit]
 * @property {string} [logFile]
 */

/** @type {Set<BenchChild>} */
const children = new Set();
let hooked = false;

function hookExit() {
  if (hooked) return;
  hooked = true;
  const killAll = () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null && c.pid) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    children.clear();
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

/**
 * @param {BenchChild} child
 * @param {string} name
 * @returns {BenchChild}
 */
function track(child, name) {
  hookExit();
  children.add(child);
  child.benchName = name;
  child.once('exit', () => children.delete(child));
  return child;
}

/**
 * Forks a Node module with an IPC channel. The module is expected to exit when
 * the channel closes (see `exitWithParent`).
 */
/**
 * @param {string} modulePath
 * @param {string[]} [args]
 * @param {ForkOptions} [options]
 * @returns {BenchChild}
 */
export function forkNode(modulePath, args = [], { execArgv = [], env, name, silent = false, fdLimit } = {}) {
  /** @type {import('node:child_process').StdioOptions} */
  const stdio = silent ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'inherit', 'inherit', 'ipc'];
  const options = { env: { ...process.env, ...env }, stdio };
  // With fdLimit, bash raises `ulimit -n` and execs node, which keeps the IPC channel (NODE_CHANNEL_FD).
  const child = fdLimit
    ? spawn('bash', ['-c', `ulimit -n ${Number(fdLimit)} && exec "$0" "$@"`, process.execPath, ...execArgv, modulePath, ...args], options)
    : fork(modulePath, args, { ...options, execArgv });
  return track(child, name ?? modulePath);
}

/**
 * Starts a non-Node (or non-IPC) program under `supervise.mjs`, which kills it
 * when the harness goes away. `fdLimit` raises the open-file limit first
 * (`ulimit -n` through bash). Resolves to the supervisor handle; `pid` of the
 * real program arrives as `handle.targetPid`.
 */
/**
 * @param {string} command
 * @param {string[]} args
 * @param {SuperviseOptions} [options]
 * @returns {Promise<BenchChild>}
 */
export async function spawnSupervised(command, args, { cwd, env, name, fdLimit, logFile } = {}) {
  const payload = JSON.stringify({ command, args, cwd, fdLimit, logFile, maxLifetimeMs: CHILD_MAX_LIFETIME_MS });
  /** @type {BenchChild} */
  const child = fork(SUPERVISOR, [payload], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  track(child, name ?? command);
  const [msg] = /** @type {[{ type: string, pid?: number }]} */ (await once(child, 'message'));
  if (msg.type !== 'started') throw new Error(`${name ?? command}: supervisor failed: ${JSON.stringify(msg)}`);
  child.targetPid = msg.pid;
  child.on('message', (/** @type {{ type: string }} */ m) => {
    if (m.type === 'exited') child.targetExit = m;
  });
  return child;
}

/**
 * Is a child (or, for a supervised one, its program) still running?
 * @param {BenchChild} child
 */
export function isAlive(child) {
  return child.exitCode === null && child.signalCode === null && !child.targetExit;
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child, graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  try {
    child.kill('SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

/** For modules run by `forkNode`: exit when the harness's IPC channel closes, and after a hard lifetime. */
export function exitWithParent() {
  process.on('disconnect', () => process.exit(0));
  setTimeout(() => process.exit(3), CHILD_MAX_LIFETIME_MS).unref();
}

/** A free TCP port on 127.0.0.1 (bound and released; the window for a race is tiny on a quiet machine). */
export async function freePort() {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = portOf(srv);
  srv.close();
  await once(srv, 'close');
  return port;
}

/**
 * Waits until something accepts TCP connections on host:port.
 * @param {number} port
 * @param {{ host?: string, timeoutMs?: number, child?: BenchChild }} [options]
 */
export async function waitForPort(port, { host = '127.0.0.1', timeoutMs = 30_000, child } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`${child.benchName} exited (code ${child.exitCode}) before listening on ${port}`);
    if (child?.targetExit) throw new Error(`${child.benchName} exited (${JSON.stringify(child.targetExit)}) before listening on ${port}`);
    const ok = await new Promise((resolve) => {
      const s = connect({ port, host });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listened on ${host}:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sends a request over IPC and resolves with the child's answer carrying the same `seq`. */
let seqCounter = 0;
/**
 * @param {BenchChild} child
 * @param {{ cmd: string, [key: string]: unknown }} message
 * @param {number} [timeoutMs]
 * @returns {Promise<any>}
 */
export function ask(child, message, timeoutMs = 120_000) {
  const seq = ++seqCounter;
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m && m.seq === seq) {
        cleanup();
        if (m.error) reject(new Error(`${child.benchName}: ${m.error}`));
        else resolve(m);
      }
    };
    const onExit = (code) => {
      cleanup();
      reject(new Error(`${child.benchName} exited (code ${code}) during ${message.cmd}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${child.benchName}: no answer to ${message.cmd} within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send({ ...message, seq });
  });
}

/**
 * Serves IPC requests in a child: `handlers[cmd](msg)` may be async; its
 * result (an object) is sent back with the request's `seq`.
 */
/** @param {Record<string, (msg: any) => unknown>} handlers */
export function serveIpc(handlers) {
  process.on('message', async (/** @type {any} */ msg) => {
    const h = handlers[msg.cmd];
    try {
      if (!h) throw new Error(`unknown command ${msg.cmd}`);
      const out = /** @type {object} */ ((await h(msg)) ?? {});
      process.send({ ...out, seq: msg.seq });
    } catch (err) {
      process.send({ seq: msg.seq, error: err instanceof Error ? err.stack : String(err) });
    }
  });
}

/** Resident set size of a process, in bytes (Linux /proc). */
export async function rssBytes(pid) {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

/** CPU time (user+system) of a process so far — or of its thread `tid` alone — in seconds (Linux /proc). */
export async function cpuSeconds(pid, tid) {
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] = utime, fields[12] = stime (proc(5), counting from field 3 "state")
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Read and write system calls the process has made so far (syscr, syscw of /proc/PID/io): how well its I/O is batched. */
export async function syscalls(pid) {
  const { readFile } = await import('node:fs/promises');
  const io = await readFile(`/proc/${pid}/io`, 'utf8');
  const field = (k) => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(io)?.[1] ?? NaN);
  return { reads: field('syscr'), writes: field('syscw') };
}

export { spawn };

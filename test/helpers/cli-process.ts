/**
 * The gateway as a real process for tests: `thinggate start -c FILE` from
 * dist/ (npm test builds first), its JSON log lines parsed as they come.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const CLI = join(import.meta.dirname, '../../dist/cli.js');

export interface Running {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  /** What the process wrote to stderr so far (a V8 abort prints its report there). */
  stderr(): string;
  waitLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/** `args`: more `thinggate start` arguments (`--workers N`). */
export function startCli(configFile: string, args: readonly string[] = []): Running {
  const child = spawn(process.execPath, ['--no-node-snapshot', CLI, 'start', '-c', configFile, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    lines.push(parsed);
    for (const w of [...waiters]) if (w.pred(parsed)) waiters.splice(waiters.indexOf(w), 1), w.resolve(parsed);
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    stderr: () => stderr,
    waitLog(pred, timeoutMs = 15_000) {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`log line not seen; stderr: ${stderr}; lines: ${lines.map((l) => l.msg).join(' | ')}`)), timeoutMs);
        waiters.push({ pred, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    },
  };
}

/** The port of the listener named `name`, from the 'thinggate started' line. */
export async function listenerPort(r: Running, name = 'mqtt'): Promise<number> {
  // A loaded host (the full suite on 2 cores) may take many seconds to start a process.
  const started = await r.waitLog((l) => l.msg === 'thinggate started', 60_000);
  const url = (started.listeners as Record<string, string>)[name]!;
  return Number(url.split(':').at(-1));
}

/** A gateway process started by startGateway. */
export interface GatewayProcess {
  /** The MQTT listener's port. */
  readonly port: number;
  /** Every listener's port, by listener name. */
  readonly ports: Readonly<Record<string, number>>;
  /** The admin API's base URL, without a trailing slash. */
  readonly admin: string;
  readonly run: Running;
}

/**
 * Writes a configuration to `file` and starts a gateway process on it,
 * resolving once it has started. The configuration is `sections` merged
 * over a base (top-level sections replaced): the MQTT listener `mqtt` and
 * the admin API on free loopback ports, pool `default` at a closed port
 * with every address routed to it, guard.stateDir `guard` (beside `file`).
 * A process that does not start is killed.
 */
export async function startGateway(file: string, sections: Record<string, unknown> = {}): Promise<GatewayProcess> {
  const config = {
    listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
    pools: [{ name: 'default', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
    routes: [{ match: { address: '#' }, pool: 'default' }],
    admin: { host: '127.0.0.1', port: 0 },
    guard: { stateDir: 'guard' },
    ...sections,
  };
  writeFileSync(file, JSON.stringify(config));
  const run = startCli(file);
  let started: Record<string, unknown>;
  try {
    // A loaded host (the full suite on 2 cores) may take many seconds to start a process.
    started = await run.waitLog((l) => l.msg === 'thinggate started', 60_000);
  } catch (err) {
    run.child.kill('SIGKILL');
    throw err;
  }
  const ports = Object.fromEntries(Object.entries(started.listeners as Record<string, string>).map(([name, url]) => [name, Number(url.split(':').at(-1))]));
  return { port: ports.mqtt!, ports, admin: String(started.admin).replace(/\/$/, ''), run };
}

/** Ends a gateway process with `signal` (SIGTERM: a clean stop; SIGKILL: a crash) and waits for it to exit. */
export async function stopGateway(g: { readonly run: Running } | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!g || g.run.child.exitCode !== null || g.run.child.signalCode !== null) return;
  g.run.child.kill(signal);
  await g.run.exited;
}

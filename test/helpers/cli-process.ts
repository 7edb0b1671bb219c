/**
 * The gateway as a real process for tests: `thinggate start -c FILE` from
 * dist/ (npm test builds first), its JSON log lines parsed as they come.
 */
import { spawn, type ChildProcess } from 'node:child_process';
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

export function startCli(configFile: string): Running {
  const child = spawn(process.execPath, ['--no-node-snapshot', CLI, 'start', '-c', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
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

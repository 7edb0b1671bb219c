/** Running client programs from a test without blocking the gateway in the same process, and polling for a condition. */
import { execFile } from 'node:child_process';

export interface Run {
  readonly code: number;
  readonly out: string;
}

/** Runs `cmd` with an empty stdin; resolves with its exit code (non-zero on a time-out) and its stdout + stderr. */
export function run(cmd: string, args: readonly string[], timeoutMs = 10_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}${stderr}` });
    });
    // Clients that read stdin (openssl s_client) end at its end.
    child.stdin?.end();
  });
}

/** Resolves once `cond` holds; rejects after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Debian's redis-server for the cluster scenarios: a free loopback port, no
 * persistence, supervised like every bench child (killed by PID when the
 * suite ends). `commandstats()` reads INFO commandstats as { command: calls }.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { freePort, spawnSupervised, stopChild, waitForPort } from './proc.mjs';

export async function startRedis() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'thinggate-bench-redis-'));
  const child = await spawnSupervised('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    name: 'redis-server',
    logFile: join(dir, 'redis.log'),
  });
  await waitForPort(port, { child });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid: child.targetPid,
    /** @returns {Record<string, number>} calls by command since the start */
    commandstats() {
      const text = execFileSync('redis-cli', ['-p', String(port), 'INFO', 'commandstats'], { encoding: 'utf8' });
      /** @type {Record<string, number>} */
      const out = {};
      for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
      return out;
    },
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Calls per command between two commandstats() readings, the commands the reading itself made left out. */
/**
 * @param {Record<string, number>} before
 * @param {Record<string, number>} after
 */
export function commandDelta(before, after) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0 && k !== 'info') out[k] = d;
  }
  return out;
}

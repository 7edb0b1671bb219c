#!/usr/bin/env node
/**
 * Redis presence cost, the inputs of docs/scaling.md's capacity model: N
 * client ids claimed (as N device connections would) and released through
 * the built RedisPresence, against a fresh redis-server on loopback.
 * Prints claims/s, releases/s, Redis memory per entry and commands per
 * claim (INFO commandstats).
 *
 *   node bench/cluster/presence.mjs [N=100000] [CONCURRENCY=500]
 */
import { execFileSync } from 'node:child_process';
import { startRedis, commandDelta } from '../lib/redis.mjs';
import { RedisLink } from '../../dist/state/redis/link.js';
import { RedisPresence } from '../../dist/state/redis/presence.js';

const N = Number(process.argv[2] ?? 100_000);
const CONCURRENCY = Number(process.argv[3] ?? 500);

function usedMemory(port) {
  const text = execFileSync('redis-cli', ['-p', String(port), 'INFO', 'memory'], { encoding: 'utf8' });
  return Number(/^used_memory:(\d+)/m.exec(text)[1]);
}

async function inParallel(n, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < n; i = next++) await fn(i);
    }),
  );
}

const redis = await startRedis();
const link = new RedisLink({ url: redis.url, keyPrefix: 'bench:' });
try {
  await link.connect();
  const presence = new RedisPresence(link, 'node-a', 6000);
  await presence.heartbeat();
  const mem0 = usedMemory(redis.port);
  const s0 = redis.commandstats();
  let t = performance.now();
  await inParallel(N, (i) => presence.claim(`device-${i}`));
  const claimMs = performance.now() - t;
  const s1 = redis.commandstats();
  const mem1 = usedMemory(redis.port);
  t = performance.now();
  await inParallel(N, (i) => presence.release(`device-${i}`));
  const releaseMs = performance.now() - t;
  const claimCmds = commandDelta(s0, s1);
  const result = {
    devices: N,
    concurrency: CONCURRENCY,
    claimsPerSecond: Math.round(N / (claimMs / 1000)),
    releasesPerSecond: Math.round(N / (releaseMs / 1000)),
    redisBytesPerDevice: Math.round((mem1 - mem0) / N),
    clientCommandsPerClaim: (claimCmds.eval ?? 0) / N,
    redisCommandsInsideScriptsPerClaim: Object.fromEntries(
      Object.entries(claimCmds)
        .filter(([k]) => k !== 'eval')
        .map(([k, v]) => [k, +(v / N).toFixed(2)]),
    ),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await link.close();
  await redis.stop();
}

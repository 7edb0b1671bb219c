#!/usr/bin/env node
/**
 * Offline-queue cost of the session stores: N messages queued for
 * parked sessions (SessionStore.enqueue, as ParkedSession does for each
 * message published toward an offline device), CONCURRENCY at a time,
 * through the built memory, durable embedded (classic-level, group-committed
 * fsync) and Redis stores, in one invocation, each measured RUNS times in
 * turn. Prints messages/s per store and the median ratios to memory.
 *
 *   node bench/sessions/stores.mjs [N=20000] [CONCURRENCY=100] [RUNS=3]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { startRedis } from '../lib/redis.mjs';
import { MemorySessionStore } from '../../dist/state/embedded/sessions.js';
import { DurableSessionStore } from '../../dist/state/embedded/durable-sessions.js';
import { RedisSessionStore } from '../../dist/state/redis/sessions.js';
import { RedisLink } from '../../dist/state/redis/link.js';
import { deviceMessageCodec } from '../../dist/devices/wire.js';

const N = Number(process.argv[2] ?? 20_000);
const CONCURRENCY = Number(process.argv[3] ?? 100);
const RUNS = Number(process.argv[4] ?? 3);
const DEVICES = 1000;
const payload = Buffer.alloc(64, 'x');
const limits = { maxMessages: 1e6, maxBytes: 1e9 };

async function measure(store) {
  for (let d = 0; d < DEVICES; d++)
    await store.save({ clientId: `dev-${d}`, expiresAt: Date.now() + 3600_000, subscriptions: [{ filter: `devices/dev-${d}/#`, qos: 1 }], pending: [] });
  let next = 0;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < N; i = next++) {
        const d = i % DEVICES;
        const r = await store.enqueue(
          `dev-${d}`,
          { message: { topic: `devices/dev-${d}/cmd`, payload, qos: 1, retain: false }, qos: 1, bytes: payload.length },
          limits,
        );
        if (r !== 'queued') throw new Error(`not queued: ${r}`);
      }
    }),
  );
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return N / s;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const redis = await startRedis();
const results = { memory: [], durable: [], redis: [] };
try {
  for (let run = 0; run < RUNS; run++) {
    results.memory.push(await measure(new MemorySessionStore()));
    const dir = mkdtempSync(join(tmpdir(), 'tg-bench-sessions-'));
    const durable = new DurableSessionStore(dir, deviceMessageCodec);
    await durable.open();
    results.durable.push(await measure(durable));
    await durable.close();
    rmSync(dir, { recursive: true, force: true });
    const link = new RedisLink({ url: redis.url, keyPrefix: `b${run}:` });
    await link.connect();
    results.redis.push(await measure(new RedisSessionStore(link, deviceMessageCodec)));
    await link.close();
  }
} finally {
  await redis.stop();
}
const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
console.log(
  `N=${N} concurrency=${CONCURRENCY} runs=${RUNS} loadavg=${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
for (const [k, v] of Object.entries(results))
  console.log(`${k.padEnd(8)} median ${Math.round(m[k])} msg/s  (runs: ${v.map(Math.round).join(', ')})  ratio to memory ${(m[k] / m.memory).toFixed(3)}`);

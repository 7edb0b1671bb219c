#!/usr/bin/env -S node --no-node-snapshot
/**
 * Script overhead: messages/s end to end through GatewayPipeline (in-process
 * envelopes → route → real HTTP back-end in another process) for the same
 * route static and through a trivial script, in one run (rounds
 * interleaved), plus the main-thread CPU cost of the script call alone.
 *
 *   npm run build && node --no-node-snapshot bench/script-overhead/run.mjs [--messages N] [--concurrency C] [--rounds R]
 *     [--threads T (scripts.threads; 0 runs the script on the event loop)]
 *
 * Targets: ≤ 15 µs main-thread CPU per message for the script call, and the
 * scripted route's throughput ≥ 85 % of the static route's. Main-thread CPU
 * is read from /proc (Linux); "all threads" adds the script threads.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import pino from 'pino';
import { GatewayPipeline, RouteTable } from '../../dist/routing/index.js';
import { createBalancer } from '../../dist/balancer/index.js';
import { DeviceRegistry } from '../../dist/devices/registry.js';
import { parseConfig } from '../../dist/config/load.js';
import { createEnvelope } from '../../dist/envelope/index.js';
import { Metrics } from '../../dist/observability/metrics.js';
import { buildScriptHost } from '../../dist/scripting/factory.js';
import { cpuSeconds } from '../lib/proc.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '40000' },
    concurrency: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '3' },
    'batch-max': { type: 'string', default: '256' },
    'batch-turns': { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    // Generous: the bench measures overhead, and on an overloaded host even a trivial call can take tens of ms.
    'timeout-ms': { type: 'string', default: '1000' },
  },
});
const N = Number(values.messages);
const C = Number(values.concurrency);
const ROUNDS = Number(values.rounds);
const BATCH_MAX = Number(values['batch-max']);
const BATCH_TURNS = Number(values['batch-turns']);

const backend = spawn(process.execPath, [join(here, 'backend.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] });
const [line] = await once(backend.stdout, 'data');
const port = Number(String(line).trim());

const config = parseConfig(
  {
    listeners: [],
    pools: [{ name: 'p', endpoints: [{ url: `http://127.0.0.1:${port}` }] }],
    routes: [
      { match: { address: 'static/#' }, pool: 'p', request: { path: '/messages/{address}' } },
      { match: { address: 'scripted/#' }, pool: 'p', script: 'trivial.js' },
    ],
    scripts: { watch: false, batchMax: BATCH_MAX, batchTurns: BATCH_TURNS, threads: Number(values.threads), timeoutMs: Number(values['timeout-ms']) },
  },
  { baseDir: here, env: {} },
);
const logger = pino({ level: 'warn' });
const metrics = new Metrics();
const scripts = await buildScriptHost(config, logger, metrics);
const balancer = createBalancer(config.pools, { baseDir: here, logger, metrics });
const pipeline = new GatewayPipeline({ routes: new RouteTable(config.routes), balancer, scripts }, new DeviceRegistry(), logger, metrics);

const payload = Buffer.from('{"t":21.5,"h":40}');
// 100 devices; as on a listener, the messages of one connection share its source object.
const SOURCES = Array.from({ length: 100 }, (_, k) => Object.freeze({ clientId: `dev-${k}`, remoteAddress: '127.0.0.1' }));
function envelope(prefix, i) {
  return createEnvelope({
    protocol: 'mqtt',
    listener: 'mqtt',
    source: SOURCES[i % 100],
    address: `${prefix}/dev-${i % 100}/temp`,
    method: 'PUBLISH',
    payload,
    contentType: 'application/json',
    delivery: 'at-least-once',
  });
}

/**
 * CPU time of this process's main thread in µs (/proc: its thread id is the
 * process id), so the script threads' time is not counted; process.cpuUsage()
 * counts every thread.
 */
async function mainThreadCpuUs() {
  return (await cpuSeconds(process.pid, process.pid)) * 1e6;
}
function processCpuUs() {
  const c = process.cpuUsage();
  return c.user + c.system;
}

/** Runs N messages with C in flight; returns messages/s and main-thread and whole-process CPU µs per message. */
async function endToEnd(prefix) {
  let next = 0;
  let failed = 0;
  const main0 = await mainThreadCpuUs();
  const cpu0 = processCpuUs();
  const t0 = process.hrtime.bigint();
  async function worker() {
    while (next < N) {
      const o = await pipeline.handle(envelope(prefix, next++));
      if (o.kind !== 'accepted') failed++;
    }
  }
  await Promise.all(Array.from({ length: C }, worker));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const main = (await mainThreadCpuUs()) - main0;
  const cpu = processCpuUs() - cpu0;
  if (failed) throw new Error(`${prefix}: ${failed} messages not accepted`);
  return { rate: N / secs, cpuUsPerMsg: main / N, processCpuUsPerMsg: cpu / N };
}

/** The script call alone: onMessage for N envelopes arriving C at a time (one I/O turn each). */
async function scriptCallOnly(c) {
  const envs = Array.from({ length: N }, (_, i) => envelope('scripted', i));
  const main0 = await mainThreadCpuUs();
  const cpu0 = processCpuUs();
  for (let i = 0; i < N; i += c) {
    const batch = [];
    for (let j = i; j < Math.min(N, i + c); j++) batch.push(scripts.onMessage('trivial.js', envs[j]));
    const rs = await Promise.all(batch);
    if (!rs.every((r) => r.ok)) throw new Error('script failed');
  }
  const main = (await mainThreadCpuUs()) - main0;
  return { main: main / N, process: (processCpuUs() - cpu0) / N };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Warm up both paths (JIT, connections).
await endToEnd('static');
await endToEnd('scripted');
const stat = [];
const scr = [];
for (let r = 0; r < ROUNDS; r++) {
  stat.push(await endToEnd('static'));
  scr.push(await endToEnd('scripted'));
}
const call = {};
for (const c of [1, 16, C]) {
  await scriptCallOnly(c);
  call[c] = await scriptCallOnly(c);
}

const s = median(stat.map((x) => x.rate));
const k = median(scr.map((x) => x.rate));
const result = {
  messages: N,
  concurrency: C,
  rounds: ROUNDS,
  batchMax: BATCH_MAX,
  batchTurns: BATCH_TURNS,
  threads: Number(values.threads),
  staticRate: Math.round(s),
  scriptedRate: Math.round(k),
  ratio: +(k / s).toFixed(3),
  staticCpuUsPerMsg: +median(stat.map((x) => x.cpuUsPerMsg)).toFixed(2),
  scriptedCpuUsPerMsg: +median(scr.map((x) => x.cpuUsPerMsg)).toFixed(2),
  staticProcessCpuUsPerMsg: +median(stat.map((x) => x.processCpuUsPerMsg)).toFixed(2),
  scriptedProcessCpuUsPerMsg: +median(scr.map((x) => x.processCpuUsPerMsg)).toFixed(2),
  scriptCallCpuUsPerMsg: Object.fromEntries(Object.entries(call).map(([c, v]) => [`arrivingTogether${c}`, +v.main.toFixed(2)])),
  scriptCallProcessCpuUsPerMsg: Object.fromEntries(Object.entries(call).map(([c, v]) => [`arrivingTogether${c}`, +v.process.toFixed(2)])),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(
  `static ${result.staticRate} msg/s, scripted ${result.scriptedRate} msg/s (${(result.ratio * 100).toFixed(1)} %); ` +
    `e2e main-thread CPU ${result.staticCpuUsPerMsg} → ${result.scriptedCpuUsPerMsg} µs/msg ` +
    `(all threads ${result.staticProcessCpuUsPerMsg} → ${result.scriptedProcessCpuUsPerMsg}); ` +
    `script call alone ${Object.values(result.scriptCallCpuUsPerMsg).join(' / ')} µs/msg main thread, ` +
    `${Object.values(result.scriptCallProcessCpuUsPerMsg).join(' / ')} all threads (1 / 16 / ${C} arriving together)\n`,
);
await scripts.close();
await balancer.close(0);
backend.kill();

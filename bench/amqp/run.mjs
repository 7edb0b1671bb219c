/**
 * AMQP throughput: messages/s through thinggate's AMQP listener to an HTTP
 * back-end (unsettled deliveries, each settled `accepted` after the
 * back-end's 2xx), next to
 *   (a) a bare rhea receiver that only accepts,
 *   (b) undici driving the same back-end directly: the HTTP egress limit, and
 *   (c) a bare bridge: a rhea receiver POSTing each message with undici and
 *       accepting after the 2xx, nothing else (bare-bridge.mjs),
 * thinggate's listener alone (messages routed to devices, no HTTP), and
 * thinggate through a batching pool (`--batch N`, 0 to leave it out).
 * Target: thinggate ≥ 0.75 × the egress limit.
 *
 *   npx tsc -p tsconfig.json --outDir node_modules/.cache/thinggate-amqp-bench
 *   THINGGATE_BENCH_DIST=node_modules/.cache/thinggate-amqp-bench node bench/amqp/run.mjs [--runs 3] [--seconds 5] [--connections 4] [--inflight 64] [--size 64] [--http-connections 16] [--tg-connections N] [--tg-pipelining N] [--batch 100] [--profile DIR] [--dry-run]
 *
 * Writes the `## amqp` section of bench/RESULTS.md (only that section; not with --dry-run).
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { startThinggate, ROOT, GATEWAY_NODE_ARGS } from '../lib/thinggate.mjs';
import { cpuSeconds, freePort, spawnSupervised, stopChild, syscalls, waitForPort } from '../lib/proc.mjs';
import { writeMarkedBlock } from '../lib/results.mjs';
import { PIPELINED } from '../scenarios/thinggate.mjs';

// rhea and undici are thinggate's own dependencies; resolve them from the repository root.
const require = createRequire(new URL('../../package.json', import.meta.url));
const rhea = require('rhea');
const { Pool } = require('undici');

const args = Object.fromEntries(process.argv.slice(2).flatMap((a, i, all) => (a.startsWith('--') ? [[a.slice(2), all[i + 1]]] : [])));
const SECONDS = Number(args.seconds ?? 5);
const RUNS = Number(args.runs ?? 3);
const WARMUP_MS = 1500;
const CONNECTIONS = Number(args.connections ?? 4);
const INFLIGHT = Number(args.inflight ?? 64);
/** The HTTP baseline runs as many requests at once as the AMQP links may have in flight in total. */
const CONCURRENCY = CONNECTIONS * INFLIGHT;
const SIZE = Number(args.size ?? 64);
/** Keep-alive connections to the back-end, the same for thinggate's pool and the undici baseline. */
const HTTP_CONNECTIONS = Number(args['http-connections'] ?? 16);
/** thinggate's pool: keep-alive connections and HTTP/1.1 pipelining depth (by default the pool's own: PIPELINED). The egress limit is measured with undici at HTTP_CONNECTIONS × 1 and at HTTP_CONNECTIONS × TG_PIPELINING. */
const TG_CONNECTIONS = Number(args['tg-connections'] ?? HTTP_CONNECTIONS);
const TG_PIPELINING = Number(args['tg-pipelining'] ?? PIPELINED.pipelining);
/** Pool batching for the extra batched row: up to this many messages per back-end request (or 5 ms); 0 leaves the row out. */
const BATCH = Number(args.batch ?? 100);
const here = (f) => fileURLToPath(new URL(f, import.meta.url));

function child(file, argv = []) {
  const c = fork(here(file), argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return once(c, 'message').then(([m]) => ({ proc: c, port: m.port }));
}

/**
 * Counts events from `start` over a measured window after a warm-up; returns
 * events/s, the CPU time per event of process `pid` (the process doing the
 * work under test) in microseconds, and its read and write system calls per
 * event.
 */
async function measure(label, start, pid = process.pid) {
  let count = 0;
  const stop = await start(() => count++);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const c0 = count;
  const cpu0 = await cpuSeconds(pid);
  const io0 = await syscalls(pid);
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const n = count - c0;
  const rate = n / (Number(process.hrtime.bigint() - t0) / 1e9);
  const cpuUs = (((await cpuSeconds(pid)) - cpu0) * 1e6) / Math.max(1, n);
  const io1 = await syscalls(pid);
  const reads = (io1.reads - io0.reads) / Math.max(1, n);
  const writes = (io1.writes - io0.writes) / Math.max(1, n);
  await stop();
  console.log(`${label}: ${Math.round(rate)} msg/s, ${cpuUs.toFixed(1)} µs CPU/msg, ${reads.toFixed(2)} reads + ${writes.toFixed(2)} writes/msg`);
  return { rate, cpuUs, reads, writes };
}

/**
 * thinggate with the listener alone: every message routed `target: devices`
 * with no device subscribed, so each is accepted as soon as it is routed and
 * no HTTP request is made. It shows what the AMQP side costs by itself.
 */
async function startListenerOnly() {
  const dir = mkdtempSync(join(tmpdir(), 'thinggate-amqp-bench-'));
  const port = await freePort();
  const config = {
    listeners: [{ name: 'amqp', protocol: 'amqp', host: '127.0.0.1', port, limits: { maxInflight: INFLIGHT } }],
    pools: [{ name: 'default', endpoints: [{ url: 'http://127.0.0.1:9' }] }],
    routes: [{ match: { address: '#' }, target: 'devices' }],
    log: { level: 'warn' },
  };
  writeFileSync(join(dir, 'thinggate.json'), JSON.stringify(config));
  const dist = process.env.THINGGATE_BENCH_DIST ? resolve(ROOT, process.env.THINGGATE_BENCH_DIST) : join(ROOT, 'dist');
  const child = await spawnSupervised(process.execPath, [...GATEWAY_NODE_ARGS, join(dist, 'cli.js'), 'start', '-c', join(dir, 'thinggate.json')], {
    cwd: dir,
    name: 'thinggate(amqp, no back-end)',
    logFile: join(dir, 'thinggate.log'),
  });
  await waitForPort(port, { child, timeoutMs: 20_000 });
  return {
    port,
    pid: child.targetPid,
    async stop() {
      await stopChild(child, 8000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** CONNECTIONS rhea senders sending unsettled messages as fast as credit allows; `onAccepted` per settlement. SASL PLAIN toward thinggate; the bare receiver offers only ANONYMOUS. */
function amqpLoad(port, sasl = true) {
  return async (onAccepted) => {
    const body = rhea.message.data_section(Buffer.alloc(SIZE, 0x61));
    const conns = [];
    let failures = 0;
    await Promise.all(
      Array.from({ length: CONNECTIONS }, (_, i) => {
        const container = rhea.create_container({ id: `bench-${i}` });
        container.on('error', () => undefined);
        container.on('disconnected', () => undefined);
        const conn = container.connect(
          /** @type {import('rhea').ConnectionOptions} */ ({
            port,
            host: '127.0.0.1',
            reconnect: false,
            tcp_no_delay: true,
            ...(sasl && { username: `bench-${i}`, password: 'bench' }),
          }),
        );
        conns.push(conn);
        const s = conn.open_sender({ target: { address: `telemetry/bench-${i}` } });
        const pump = () => {
          while (s.sendable()) s.send({ body });
        };
        s.on('accepted', onAccepted);
        s.on('rejected', () => failures++);
        s.on('released', () => failures++);
        s.on('sendable', pump);
        return once(s, 'sendable');
      }),
    );
    return async () => {
      for (const c of conns) c.close();
      if (failures) console.log(`  (${failures} deliveries not accepted)`);
    };
  };
}

/** CONCURRENCY concurrent POSTs through an undici Pool of HTTP_CONNECTIONS connections, `pipelining` requests deep. */
function httpLoad(url, pipelining) {
  return async (onDone) => {
    const pool = new Pool(url, { connections: HTTP_CONNECTIONS, pipelining });
    const body = Buffer.alloc(SIZE, 0x61);
    let running = true;
    const worker = async () => {
      while (running) {
        const r = await pool.request({ method: 'POST', path: '/messages/telemetry/x', body, headers: { 'content-type': 'application/octet-stream' } });
        await r.body.dump();
        onDone();
      }
    };
    const workers = Array.from({ length: CONCURRENCY }, worker);
    return async () => {
      running = false;
      await Promise.allSettled(workers);
      await pool.close();
    };
  };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** RUNS rounds, each measuring the three in turn (so load from other processes spreads over all three); medians reported. */
async function main() {
  const backend = await child('backend.mjs');
  const url = `http://127.0.0.1:${backend.port}`;
  const bare = await child('bare-receiver.mjs');
  const bridge = await child('bare-bridge.mjs', [url, String(TG_CONNECTIONS), String(TG_PIPELINING), String(INFLIGHT)]);
  /** thinggate with a static route to the back-end, link credit INFLIGHT, and `pool` as its pool's options. */
  const gateway = (label, pool, extra = {}) =>
    startThinggate({ url }, { protocol: 'amqp', routing: 'static', label, listener: { limits: { maxInflight: INFLIGHT } }, pool, ...extra });
  const tg = await gateway('amqp', { connections: TG_CONNECTIONS, pipelining: TG_PIPELINING }, args.profile && { cpuProf: args.profile });
  const alone = await startListenerOnly();
  const batched = BATCH > 0 ? await gateway('amqp-batch', { connections: HTTP_CONNECTIONS, batch: { maxMessages: BATCH, maxDelayMs: 5 } }) : undefined;
  const runs = { egress: [], egressPiped: [], bare: [], bridge: [], tg: [], alone: [], batched: [] };
  try {
    for (let i = 0; i < RUNS; i++) {
      runs.egress.push(await measure('HTTP egress limit (undici → back-end)', httpLoad(url, 1)));
      runs.egressPiped.push(await measure(`HTTP egress limit, undici pipelining ${TG_PIPELINING}`, httpLoad(url, TG_PIPELINING)));
      runs.bare.push(await measure('bare rhea receiver (accept only)', amqpLoad(bare.port, false), bare.proc.pid));
      runs.bridge.push(await measure('bare bridge: rhea receiver → undici → back-end', amqpLoad(bridge.port, false), bridge.proc.pid));
      runs.tg.push(await measure('thinggate AMQP → HTTP back-end', amqpLoad(tg.port), tg.pid));
      runs.alone.push(await measure('thinggate AMQP, no back-end (target: devices)', amqpLoad(alone.port), alone.pid));
      if (batched) runs.batched.push(await measure(`thinggate AMQP → HTTP back-end, pool batching ≤ ${BATCH}`, amqpLoad(batched.port), batched.pid));
    }
  } finally {
    await tg.stop();
    await alone.stop();
    await batched?.stop();
    bare.proc.kill();
    bridge.proc.kill();
    backend.proc.kill();
  }
  const rates = (xs) => xs.map((x) => x.rate);
  const cpu = (xs) => median(xs.map((x) => x.cpuUs));
  const io = (xs) => (xs.length ? `${median(xs.map((x) => x.reads)).toFixed(2)} + ${median(xs.map((x) => x.writes)).toFixed(2)}` : '');
  const r = {
    egress: median(rates(runs.egress)),
    egressPiped: median(rates(runs.egressPiped)),
    bareRate: median(rates(runs.bare)),
    bridgeRate: median(rates(runs.bridge)),
    tgRate: median(rates(runs.tg)),
    aloneRate: median(rates(runs.alone)),
    batchedRate: batched ? median(rates(runs.batched)) : undefined,
    cpu: {
      egress: cpu(runs.egress),
      egressPiped: cpu(runs.egressPiped),
      bare: cpu(runs.bare),
      bridge: cpu(runs.bridge),
      tg: cpu(runs.tg),
      alone: cpu(runs.alone),
      batched: batched ? cpu(runs.batched) : undefined,
    },
    io: Object.fromEntries(Object.entries(runs).map(([k, xs]) => [k, io(xs)])),
    runs: {
      egress: rates(runs.egress),
      egressPiped: rates(runs.egressPiped),
      bare: rates(runs.bare),
      bridge: rates(runs.bridge),
      tg: rates(runs.tg),
      alone: rates(runs.alone),
      batched: rates(runs.batched),
    },
    notes: [
      'routing: a static route to the pool (no script), so the listener and the HTTP path are what is measured',
      `thinggate's pool: ${TG_CONNECTIONS} connections, pipelining ${TG_PIPELINING}${TG_PIPELINING > 1 ? ' (each connection takes a request before any takes a second)' : ''}`,
    ],
  };
  r.ratio = r.tgRate / r.egress;
  console.log(
    `thinggate / egress limit = ${r.ratio.toFixed(2)} (target ≥ 0.75), / pipelined egress limit = ${(r.tgRate / r.egressPiped).toFixed(2)}, bare bridge / egress limit = ${(r.bridgeRate / r.egress).toFixed(2)}, medians of ${RUNS}`,
  );
  if (!('dry-run' in args)) writeResults(r);
}

const fmt = (xs) => xs.map((x) => Math.round(x)).join(', ');

function writeResults(r) {
  const file = `${ROOT}bench/RESULTS.md`;
  const cpu = cpus();
  const section = [
    '## amqp',
    '',
    `Messages/s through thinggate's AMQP 1.0 listener to an HTTP back-end that answers 204 (unsettled deliveries, each settled \`accepted\` after the 2xx), ` +
      `${CONNECTIONS} rhea sender connections, ${SIZE}-byte bodies, link credit ${INFLIGHT} per link (\`limits.maxInflight\`), rhea clients with TCP_NODELAY, ${SECONDS} s measured after ${WARMUP_MS / 1000} s warm-up, ` +
      `on ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}.`,
    '',
    `| run | msg/s (median of ${RUNS}) | runs | vs egress limit | CPU µs/msg (process under test) | its read + write system calls per message |`,
    '|---|---:|---|---:|---:|---:|',
    `| HTTP egress limit: undici (${HTTP_CONNECTIONS} connections, ${CONCURRENCY} concurrent) → back-end | ${Math.round(r.egress)} | ${fmt(r.runs.egress)} | 1.00 | ${r.cpu.egress.toFixed(1)} (load generator: undici) | ${r.io.egress} |`,
    `| HTTP egress limit, pipelined: undici (${HTTP_CONNECTIONS} connections × ${TG_PIPELINING}, ${CONCURRENCY} concurrent) → back-end | ${Math.round(r.egressPiped)} | ${fmt(r.runs.egressPiped)} | ${(r.egressPiped / r.egress).toFixed(2)} | ${r.cpu.egressPiped.toFixed(1)} (load generator: undici) | ${r.io.egressPiped} |`,
    `| bare rhea receiver, accept only (no back-end) | ${Math.round(r.bareRate)} | ${fmt(r.runs.bare)} | ${(r.bareRate / r.egress).toFixed(2)} | ${r.cpu.bare.toFixed(1)} (rhea receiver) | ${r.io.bare} |`,
    `| bare bridge: rhea receiver → undici Pool (${TG_CONNECTIONS} connections × ${TG_PIPELINING}) → back-end, accepted after the 2xx, nothing else | ${Math.round(r.bridgeRate)} | ${fmt(r.runs.bridge)} | ${(r.bridgeRate / r.egress).toFixed(2)} | ${r.cpu.bridge.toFixed(1)} (bridge) | ${r.io.bridge} |`,
    `| **thinggate AMQP → HTTP back-end** | **${Math.round(r.tgRate)}** | ${fmt(r.runs.tg)} | **${r.ratio.toFixed(2)}** | ${r.cpu.tg.toFixed(1)} (thinggate) | ${r.io.tg} |`,
    `| thinggate AMQP listener alone (route \`target: devices\`, nobody subscribed: no HTTP) | ${Math.round(r.aloneRate)} | ${fmt(r.runs.alone)} | ${(r.aloneRate / r.egress).toFixed(2)} | ${r.cpu.alone.toFixed(1)} (thinggate) | ${r.io.alone} |`,
    ...(r.batchedRate === undefined
      ? []
      : [
          `| thinggate AMQP → HTTP back-end, pool batching (≤ ${BATCH} messages or 5 ms per request; JSON array bodies) | ${Math.round(r.batchedRate)} | ${fmt(r.runs.batched)} | ${(r.batchedRate / r.egress).toFixed(2)} | ${r.cpu.batched.toFixed(1)} (thinggate) | ${r.io.batched} |`,
        ]),
    '',
    `Target: thinggate ≥ 0.75 × the egress limit — ${r.ratio >= 0.75 ? 'met' : 'not met'} with one back-end request per message (${(r.tgRate / r.egressPiped).toFixed(2)} × the pipelined egress limit)` +
      (r.batchedRate === undefined
        ? ''
        : `; ${r.batchedRate / r.egress >= 0.75 ? 'met' : 'not met'} with a batching pool, which sends fewer, larger requests than the egress limit's one per message`) +
      `. ${r.notes.join('; ')}. ` +
      `Load average when the run ended: ${loadavg()
        .map((x) => x.toFixed(1))
        .join(', ')} (other work shared the machine; compare rows of one run, not across runs).`,
    '',
    `Where the time goes: the AMQP listener alone costs ${r.cpu.alone.toFixed(1)} µs of thinggate CPU per message (envelope and routing included; ` +
      `the bare rhea receiver ${r.cpu.bare.toFixed(1)}), and reaches ${(r.aloneRate / r.egress).toFixed(2)} × the egress limit by itself; ` +
      `dispatching each message over HTTP (pipeline, balancer, undici) adds ${(r.cpu.tg - r.cpu.alone).toFixed(1)} µs, against ${r.cpu.egress.toFixed(1)} µs for undici driven directly.`,
    '',
    `The bare bridge is the same two libraries doing nothing but the hand-over: it costs ${r.cpu.bridge.toFixed(1)} µs per message and carries ${(r.bridgeRate / r.egress).toFixed(2)} × the egress limit, ` +
      `with ${r.io.bridge} read + write system calls per message (a disposition written per accept, a request written per message) against thinggate's ${r.io.tg}: ` +
      "thinggate holds each connection's writes to the end of an event-loop turn, on the AMQP side (dispositions, flow) and on the HTTP side (requests). " +
      `With one back-end request per message, rhea's receive path (${r.cpu.bare.toFixed(1)} µs) and undici's request (${r.cpu.egress.toFixed(1)} µs, its process alone) already use most of what the target leaves a gateway ` +
      'on two cores shared with the generator and the back-end.',
    '',
    `thinggate was busy ${((r.tgRate * r.cpu.tg) / 1e4).toFixed(0)}% of one core at its median rate: ` +
      (r.tgRate * r.cpu.tg < 0.8e6
        ? "the run was bound by latency across the three processes (device → thinggate → back-end and back) on a shared 2-core machine, not by thinggate's CPU."
        : "the run was bound by thinggate's CPU."),
    '',
    'Reproduce:',
    '',
    '```sh',
    'npx tsc -p tsconfig.json --outDir node_modules/.cache/thinggate-amqp-bench',
    `THINGGATE_BENCH_DIST=node_modules/.cache/thinggate-amqp-bench node bench/amqp/run.mjs --runs ${RUNS} --seconds ${SECONDS} --connections ${CONNECTIONS} --inflight ${INFLIGHT} --size ${SIZE} --http-connections ${HTTP_CONNECTIONS} --batch ${BATCH}${TG_CONNECTIONS !== HTTP_CONNECTIONS ? ` --tg-connections ${TG_CONNECTIONS}` : ''}${TG_PIPELINING !== PIPELINED.pipelining ? ` --tg-pipelining ${TG_PIPELINING}` : ''}`,
    '```',
    '',
  ].join('\n');
  writeMarkedBlock('amqp', 'bench/amqp/run.mjs', section, { file });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

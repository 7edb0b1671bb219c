/**
 * CoAP throughput: CON requests/s through thinggate's CoAP listener to an
 * HTTP back-end (each request answered after the back-end's 2xx), next to a
 * bare node-coap server that only answers. Same load generator for both
 * (a child process keeping a window of CON requests outstanding on a few
 * UDP sockets), alternating runs, medians. Target: thinggate ≥ 1.0 × bare.
 *
 *   npx tsc -p tsconfig.json --outDir node_modules/.cache/thinggate-coap-bench
 *   THINGGATE_BENCH_DIST=node_modules/.cache/thinggate-coap-bench node bench/coap/run.mjs [--runs 3] [--seconds 5] [--sockets 4] [--window 32] [--size 64]
 *
 * Writes the `## coap` section of bench/RESULTS.md (`--no-write` only prints).
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startThinggate, ROOT } from '../lib/thinggate.mjs';

const argv = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const RUNS = flag('runs', 3);
const SECONDS = flag('seconds', 5);
const SOCKETS = flag('sockets', 4);
const WINDOW = flag('window', 32);
const SIZE = flag('size', 64);
const WARMUP_MS = flag('warmup', 3000);
const WRITE = !argv.includes('--no-write');
const here = (f) => fileURLToPath(new URL(f, import.meta.url));

function child(file, args = []) {
  const c = fork(here(file), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return once(c, 'message').then(([m]) => ({ proc: c, msg: m }));
}

const GENERATORS = { raw: 'load.mjs', 'node-coap': 'load-node-coap.mjs' };
const GENERATOR = argv.includes('--generator') ? argv[argv.indexOf('--generator') + 1] : 'raw';
if (!GENERATORS[GENERATOR]) throw new Error(`--generator must be one of ${Object.keys(GENERATORS).join(', ')}`);

async function load(port) {
  const { msg } = await child(GENERATORS[GENERATOR], [port, SOCKETS, WINDOW, SIZE, WARMUP_MS, SECONDS].map(String));
  return msg;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const backend = await child('backend.mjs');
  const url = `http://127.0.0.1:${backend.msg.port}`;
  const bare = [];
  const tg = [];
  let notes = [];
  try {
    for (let run = 0; run < RUNS; run++) {
      const server = await child('bare-server.mjs');
      const b = await load(server.msg.port);
      server.proc.kill();
      bare.push(b);
      console.log(`run ${run + 1}: bare node-coap server: ${Math.round(b.rate)} CON/s (lost ${b.lost}, errors ${b.errors})`);

      const gw = await startThinggate({ url }, {
        protocol: 'coap',
        routing: 'static',
        label: 'coap',
        // One generator socket sends thousands of requests/s: lift the per-source limit for the bench.
        listener: { coap: { requestsPerSecond: 0 } },
      });
      try {
        const t = await load(gw.port);
        tg.push(t);
        notes = gw.notes ?? [];
        console.log(`run ${run + 1}: thinggate CoAP → HTTP back-end: ${Math.round(t.rate)} CON/s (lost ${t.lost}, errors ${t.errors})`);
      } finally {
        await gw.stop();
      }
    }
  } finally {
    backend.proc.kill();
  }
  const bareRate = median(bare.map((r) => r.rate));
  const tgRate = median(tg.map((r) => r.rate));
  const ratio = tgRate / bareRate;
  console.log(`median: bare ${Math.round(bareRate)} CON/s, thinggate ${Math.round(tgRate)} CON/s, ratio ${ratio.toFixed(2)} (target ≥ 1.0)`);
  if (WRITE) writeResults({ bare, tg, bareRate, tgRate, ratio, notes });
}

function writeResults(r) {
  const file = `${ROOT}bench/RESULTS.md`;
  const cpu = cpus();
  const runs = (xs) => xs.map((x) => Math.round(x.rate)).join(', ');
  const lost = (xs) => xs.reduce((n, x) => n + x.lost, 0);
  const section = [
    '## coap',
    '',
    `CON requests/s through thinggate's CoAP listener (static route, each request answered 2.04 after the HTTP back-end's 204) next to a bare ` +
      `node-coap server that only answers 2.04. Same generator for both: ${SOCKETS} UDP sockets × ${WINDOW} outstanding CON POSTs, ${SIZE}-byte payloads, ` +
      `${RUNS} alternating runs of ${SECONDS} s after ${WARMUP_MS / 1000} s warm-up, medians; on ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, Node ${process.version}, ` +
      `${new Date().toISOString().slice(0, 10)}. Generator, back-end and server each run in their own process.`,
    '',
    '| run | CON/s (median) | runs | lost (resent) |',
    '|---|---:|---|---:|',
    `| bare node-coap server, answer only | ${Math.round(r.bareRate)} | ${runs(r.bare)} | ${lost(r.bare)} |`,
    `| **thinggate CoAP → HTTP back-end** | **${Math.round(r.tgRate)}** | ${runs(r.tg)} | ${lost(r.tg)} |`,
    `| ratio | **${r.ratio.toFixed(2)}** (target ≥ 1.0) | | |`,
    '',
    `Target ${r.ratio >= 1 ? 'met' : 'not met'}. ${r.notes.join('; ')}; \`coap.requestsPerSecond: 0\` (one generator socket is one source).`,
    '',
    'Reproduce:',
    '',
    '```sh',
    'npx tsc -p tsconfig.json --outDir node_modules/.cache/thinggate-coap-bench',
    `THINGGATE_BENCH_DIST=node_modules/.cache/thinggate-coap-bench node bench/coap/run.mjs --runs ${RUNS} --seconds ${SECONDS} --sockets ${SOCKETS} --window ${WINDOW} --size ${SIZE}`,
    '```',
    '',
  ].join('\n');
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n\n';
  const start = text.indexOf('\n## coap\n');
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + 1);
    text = text.slice(0, start + 1) + section + (next >= 0 ? text.slice(next + 1) : '');
  } else {
    text = text.replace(/\n*$/, '\n\n') + section;
  }
  writeFileSync(file, text);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

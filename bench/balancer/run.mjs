// Balancer benchmark: requests/s through thinggate's balancer against undici
// driving the same endpoint directly, same concurrency, in one run.
//
//   npm run build && node bench/balancer/run.mjs [--runs 5] [--seconds 5] [--concurrency 64]
//
// The back-end (bench/balancer/server.mjs) runs in a child process. Both
// sides send the same POST with a small JSON body and read the whole answer.
// The runs alternate direct / balancer; medians and their ratio are printed
// and written to bench/RESULTS.md under "## balancer".
import { fork } from 'node:child_process';
import { writeMarkedBlock } from '../lib/results.mjs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg } from 'node:os';
import { Pool } from 'undici';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { createBalancer } = await import(join(root, 'dist/balancer/index.js'));
const { parseConfig } = await import(join(root, 'dist/config/load.js'));
const { Metrics } = await import(join(root, 'dist/observability/metrics.js'));

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const RUNS = arg('runs', 3);
const SECONDS = arg('seconds', 5);
const CONCURRENCY = arg('concurrency', 64);
const CONNECTIONS = 16;
const body = Buffer.from(JSON.stringify({ temperature: 21.5, humidity: 40 }));
const headers = { 'content-type': 'application/json', 'x-thinggate-client-id': 'bench-device' };

const child = fork(join(here, 'server.mjs'), { stdio: 'inherit' });
const port = await new Promise((resolve) => child.once('message', (/** @type {any} */ m) => resolve(m.port)));
const url = `http://127.0.0.1:${port}`;

const direct = new Pool(url, { connections: CONNECTIONS, pipelining: 1, keepAliveTimeout: 30_000 });
let seq = 0;
const sendDirect = async () => {
  const res = await direct.request({ method: 'POST', path: '/telemetry', headers: { ...headers, 'idempotency-key': `d-${++seq}` }, body });
  await res.body.arrayBuffer();
  if (res.statusCode !== 200) throw new Error(`status ${res.statusCode}`);
};

const config = parseConfig({ listeners: [], routes: [], pools: [{ name: 'bench', endpoints: [{ url }], connections: CONNECTIONS }] });
const balancer = createBalancer(config.pools, { metrics: new Metrics() });
const sendBalanced = async () => {
  const r = await balancer.dispatch({ pool: 'bench', method: 'POST', path: '/telemetry', headers, body, idempotencyKey: `b-${++seq}`, key: 'bench-device' });
  if (r.kind !== 'response' || r.status !== 200) throw new Error(`result ${JSON.stringify(r)}`);
};

/** Requests/s with CONCURRENCY loops for `seconds`. */
async function measure(send, seconds) {
  let done = 0;
  let stop = false;
  const t0 = performance.now();
  const timer = setTimeout(() => (stop = true), seconds * 1000);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (!stop) {
        await send();
        done++;
      }
    }),
  );
  clearTimeout(timer);
  return done / ((performance.now() - t0) / 1000);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await measure(sendDirect, 1);
await measure(sendBalanced, 1);
const results = { direct: [], balancer: [] };
for (let r = 0; r < RUNS; r++) {
  results.direct.push(await measure(sendDirect, SECONDS));
  results.balancer.push(await measure(sendBalanced, SECONDS));
  console.log(`run ${r + 1}: direct ${results.direct.at(-1).toFixed(0)} req/s, balancer ${results.balancer.at(-1).toFixed(0)} req/s`);
}
const md = median(results.direct);
const mb = median(results.balancer);
const ratio = mb / md;
// Each run's own ratio too: direct and balancer run back to back, so load from elsewhere on the machine hits both alike.
const paired = median(results.balancer.map((b, i) => b / results.direct[i]));
console.log(
  `median: direct ${md.toFixed(0)} req/s, balancer ${mb.toFixed(0)} req/s, ratio ${ratio.toFixed(3)}, median per-run ratio ${paired.toFixed(3)} (target >= 0.90)`,
);

await balancer.close(1000);
await direct.close();
child.disconnect();

const section = [
  '## balancer',
  '',
  'Requests/s through the balancer (one round-robin pool, one endpoint, metrics on) against undici',
  'driving the same endpoint directly; a node:http back-end answering 200 in a child process;',
  `same concurrency (${CONCURRENCY} loops, ${CONNECTIONS} keep-alive connections), ${RUNS} alternating runs of ${SECONDS} s, medians.`,
  '',
  '```',
  'npm run build && node bench/balancer/run.mjs --runs ' + RUNS + ' --seconds ' + SECONDS + ' --concurrency ' + CONCURRENCY,
  '```',
  '',
  '| | req/s (median) | runs |',
  '|---|---|---|',
  `| undici direct | ${md.toFixed(0)} | ${results.direct.map((x) => x.toFixed(0)).join(', ')} |`,
  `| balancer | ${mb.toFixed(0)} | ${results.balancer.map((x) => x.toFixed(0)).join(', ')} |`,
  `| ratio of medians | **${ratio.toFixed(3)}** (target ≥ 0.90) | |`,
  `| median of per-run ratios | ${paired.toFixed(3)} | ${results.balancer.map((b, i) => (b / results.direct[i]).toFixed(3)).join(', ')} |`,
  '',
  "Both sides read the whole answer. The balancer sends through undici's dispatcher handler interface",
  '(no response stream), which is why it can beat `Pool.request()`; it still pays for strategy, circuit',
  'breaking, retry bookkeeping, stats and Prometheus metrics on every request.',
  '',
  `Measured ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'});`,
  `load average when the run ended: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(', ')} (other work shared the machine; the per-run ratios are the steadier figure).`,
  '',
].join('\n');
const file = join(root, 'bench', 'RESULTS.md');
writeMarkedBlock('balancer', 'bench/balancer/run.mjs', section, { file });
console.log(`written to ${file}`);

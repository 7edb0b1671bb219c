#!/usr/bin/env node
/**
 * What the admin server costs the data path, and how fast it answers with
 * many connections open.
 *
 *   npm run build && node bench/admin/run.mjs [--rounds 2] [--connections 20000] [--skip-throughput] [--skip-connections]
 *
 * 1. Throughput: the suite's mqtt-qos1-rest procedure (bench/lib/measure.mjs:
 *    saturation, sustained rate, latency at 50 %/90 % of it and at 4,000/s)
 *    with the admin server off, and with it on and /metrics scraped every
 *    second by this process, alternating set-ups each round so machine noise
 *    hits both alike. Prints each run and the medians.
 * 2. Idle connections: N MQTT connections open and idle, admin server on;
 *    times 20 requests each of GET /metrics, GET /api/v1/connections (the
 *    default page of 1,000) and the whole list (?limit=100000), one at a
 *    time, and prints the median and the slowest.
 *
 * Writes nothing: quote the output in bench/RESULTS.md (section admin).
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { withRig, startBackend, startGenerator } from '../lib/rig.mjs';
import { measureRun } from '../lib/measure.mjs';
import { ask, freePort, stopChild } from '../lib/proc.mjs';
import { startThinggate } from '../lib/thinggate.mjs';
import { CLIENTS, WINDOW } from '../scenarios/thinggate.mjs';
import { connectionCount, hardFdLimit } from '../scenarios/connections.mjs';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string' },
    'skip-throughput': { type: 'boolean', default: false },
    'skip-connections': { type: 'boolean', default: false },
  },
});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(url) {
  const t0 = process.hrtime.bigint();
  const res = await fetch(url);
  const body = await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: body.byteLength };
}

async function throughput() {
  const setups = [
    { label: 'admin off', admin: false, runs: [] },
    { label: 'admin on, /metrics every 1 s', admin: true, runs: [] },
  ];
  for (let r = 1; r <= Number(values.rounds); r++) {
    for (const s of setups) {
      let adminPort;
      let scrapes = 0;
      const scrapeMs = [];
      await withRig(
        async (backend) => {
          adminPort = s.admin ? await freePort() : undefined;
          const t = await startThinggate(backend, { protocol: 'mqtt', label: s.label, ...(s.admin && { admin: { host: '127.0.0.1', port: adminPort } }) });
          return { ...t, transport: { kind: 'mqtt', host: '127.0.0.1', port: t.port, clients: CLIENTS, qos: 1, version: 5, window: WINDOW } };
        },
        async (rig) => {
          const scraper = s.admin
            ? setInterval(() => {
                timed(`http://127.0.0.1:${adminPort}/metrics`).then(
                  (x) => {
                    scrapes++;
                    scrapeMs.push(x.ms);
                  },
                  () => undefined,
                );
              }, 1000)
            : undefined;
          try {
            const run = await measureRun(rig, 'full', () => undefined);
            s.runs.push(run);
            const at = run.latency.at4000;
            console.log(
              `round ${r} ${s.label}: sustained ${run.sustainedRate}/s (saturation ${run.saturationRate}/s), ` +
                `p99 at 4,000/s back-end ${at?.backendMs?.p99} ms / ack ${at?.ackMs?.p99} ms` +
                (s.admin ? `, ${scrapes} scrapes, median ${median(scrapeMs)?.toFixed(1)} ms` : '') +
                `, load ${loadavg()[0].toFixed(1)}`,
            );
          } finally {
            clearInterval(scraper);
          }
        },
      );
    }
  }
  console.log('\n| set-up | sustained (median) | saturation (median) | p99 at 4,000/s back-end / ack (median) |');
  console.log('|---|---|---|---|');
  for (const s of setups) {
    const sus = median(s.runs.map((r) => r.sustainedRate));
    const sat = median(s.runs.map((r) => r.saturationRate));
    const be = median(s.runs.map((r) => r.latency.at4000?.backendMs?.p99 ?? NaN));
    const ack = median(s.runs.map((r) => r.latency.at4000?.ackMs?.p99 ?? NaN));
    console.log(`| ${s.label} | ${sus} | ${sat} | ${be} / ${ack} ms |`);
  }
  const ratio = median(setups[1].runs.map((r) => r.sustainedRate)) / median(setups[0].runs.map((r) => r.sustainedRate));
  console.log(`sustained ratio (on / off): ${ratio.toFixed(3)}`);
}

async function idleConnections() {
  const n = connectionCount(false, values.connections ? Number(values.connections) : undefined);
  const fdLimit = hardFdLimit();
  const backend = await startBackend();
  const adminPort = await freePort();
  const t = await startThinggate(backend, { protocol: 'mqtt', fdLimit, admin: { host: '127.0.0.1', port: adminPort }, label: 'admin-idle' });
  let gen;
  try {
    gen = await startGenerator(
      { kind: 'mqtt', host: '127.0.0.1', port: t.port, clients: n, qos: 1, version: 5, window: 1, connectConcurrency: 200, clientPrefix: 'idle' },
      { fdLimit },
    );
    console.log(`\n${gen.opened.connected} idle connections open (asked ${n}), load ${loadavg()[0].toFixed(1)}`);
    const base = `http://127.0.0.1:${adminPort}`;
    for (const [label, path] of [
      ['GET /metrics', '/metrics'],
      ['GET /api/v1/connections (first 1,000)', '/api/v1/connections'],
      ['GET /api/v1/connections?limit=100000 (all)', '/api/v1/connections?limit=100000'],
      ['GET /api/v1/connections?clientId=idle-17 (filtered)', '/api/v1/connections?clientId=idle-17'],
    ]) {
      await timed(base + path); // warm
      const xs = [];
      let bytes = 0;
      for (let i = 0; i < 20; i++) {
        const x = await timed(base + path);
        xs.push(x.ms);
        bytes = x.bytes;
      }
      console.log(`| ${label} | median ${median(xs).toFixed(1)} ms | slowest ${Math.max(...xs).toFixed(1)} ms | ${bytes} bytes |`);
    }
  } finally {
    if (gen) {
      await ask(gen.child, { cmd: 'close' }, 60_000).catch(() => {});
      await stopChild(gen.child);
    }
    await t.stop();
    await stopChild(backend.child);
  }
}

if (!values['skip-throughput']) await throughput();
if (!values['skip-connections']) await idleConnections();
process.exit(0);

#!/usr/bin/env node
/**
 * `thinggate start --workers 2` against one process, mqtt-qos1-rest (MQTT 5,
 * QoS 1, to a REST back-end, state.backend redis), in one invocation: the
 * two arms alternate round by round (1, 2, then 2, 1, ...), each round on a
 * fresh back-end, redis-server, gateway and generator, so a load that
 * changes on the host during the run falls on both. Each round measures a
 * closed-loop saturation phase (after a warm-up) and counts acknowledged
 * messages the back-end never received (lost). Prints each round, the median
 * per arm, the ratio of the medians and the load average before and after.
 *
 *   node bench/cluster/workers.mjs [ROUNDS=3]
 *
 * Prerequisites as for bench/run.mjs (npm run build, npm --prefix bench install).
 */
import { loadavg, cpus } from 'node:os';
import { withRig } from '../lib/rig.mjs';
import { PROFILES, phase } from '../lib/measure.mjs';
import { scenarios } from '../scenarios/cluster.mjs';

const ROUNDS = Number(process.argv[2] ?? 3);
const p = PROFILES.full;
const arms = { 1: scenarios[0], 2: scenarios[1] };
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const log = (line) => process.stdout.write(`${line}\n`);

/** One round of one arm: warm-up, then the saturation phase whose figures count. */
async function round(n) {
  return withRig(
    (backend) => arms[n].start(backend, { smoke: false }),
    async (rig) => {
      await phase(rig, { durationMs: p.warmupMs, drainMs: 2000 });
      return phase(rig, { durationMs: p.saturationMs, drainMs: 3000 });
    },
  );
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const loadBefore = load();
log(`workers bench: ${ROUNDS} rounds, ${cpus().length} CPUs, load average before: ${loadBefore} (${new Date().toISOString()})`);
const rates = { 1: [], 2: [] };
let lost = 0;
for (let r = 0; r < ROUNDS; r++) {
  for (const n of r % 2 === 0 ? [1, 2] : [2, 1]) {
    const s = await round(n);
    rates[n].push(s.ackRate);
    lost += s.lost;
    log(
      `round ${r + 1} workers=${n}: ${s.ackRate} acked/s, ${s.deliveredRate} delivered/s, lost ${s.lost}; cpu target ${s.targetCpu}, back-end ${s.backendCpu}, generator ${s.generatorCpu}; load ${load()}`,
    );
  }
}
const m1 = median(rates[1]);
const m2 = median(rates[2]);
log(`median acked/s: one process ${m1}, --workers 2 ${m2}; ratio ${(m2 / m1).toFixed(2)}; lost ${lost}`);
log(`load average before: ${loadBefore}; after: ${load()} (${new Date().toISOString()})`);

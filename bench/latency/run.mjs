#!/usr/bin/env node
/**
 * Publish→back-end latency at one fixed offered rate, for several gateway
 * set-ups side by side: the suite's MQTT rig (bench/lib/rig.mjs: the bench
 * back-end, thinggate and the paced generator, 50 clients × 10 in flight,
 * QoS 1, 200-byte payloads), but only the fixed-rate phase, repeated. The
 * suite's "p99 at 4,000/s" target is one such phase per run; this bench
 * tells which part of the gateway the tail comes from.
 *
 *   npm run build && node bench/latency/run.mjs [--rate 4000] [--rounds 3] [--phases 2] [--seconds 3] [--warmup 6]
 *        [--setups script,inline,static] [--dist label=dir ...] [--pin]
 *
 * Set-ups: `script` (the trivial script on script threads, the default
 * configuration), `inline` (the same script with `scripts.threads: 0`),
 * `static` (a static route, no script). `--dist label=dir` adds each set-up
 * again on another `tsc` output directory (inside the repository).
 *
 * Each round starts every set-up afresh, in turn, runs a warm-up phase at
 * the same rate (`--warmup` s: in the suite the fixed-rate phase comes after
 * a minute of others, and a gateway measured 1.5 s after its start shows a
 * p99 1–2 ms higher), then `--phases` measured phases. Set-ups alternate so
 * machine noise hits them alike. Prints each phase and a table of medians
 * (p50, p99 of publish→back-end and publish→PUBACK, the gateway's CPU in
 * cores). Writes nothing: quote the table where it is used.
 *
 * `--pin` runs each set-up twice, as it is and with the gateway (all its
 * threads) on CPU 1 and the back-end, the generator and this process on
 * CPU 0 (`taskset`): how much of the tail comes from the processes sharing
 * both cores.
 */
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { withRig } from '../lib/rig.mjs';
import { phase } from '../lib/measure.mjs';
import { startThinggate } from '../lib/thinggate.mjs';
import { CLIENTS, WINDOW } from '../scenarios/thinggate.mjs';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '3' },
    phases: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '6' },
    setups: { type: 'string', default: 'script,inline,static' },
    dist: { type: 'string', multiple: true, default: [] },
    pin: { type: 'boolean', default: false },
  },
});
const RATE = Number(values.rate);
const SETUPS = {
  script: { routing: 'script' },
  inline: { routing: 'script', scripts: { threads: 0 } },
  static: { routing: 'static' },
};
const builds = [{ label: '', dist: undefined }, ...values.dist.map((d) => ({ label: `@${d.split('=')[0]}`, dist: d.split('=')[1] }))];
const subjects = [];
for (const b of builds) {
  for (const name of values.setups.split(',')) {
    if (!SETUPS[name]) throw new Error(`--setups: unknown set-up '${name}' (one of ${Object.keys(SETUPS).join(', ')})`);
    for (const pinned of values.pin ? [false, true] : [false]) {
      subjects.push({ label: `${name}${b.label}${pinned ? ' pinned' : ''}`, opts: { ...SETUPS[name], dist: b.dist }, pinned, phases: [] });
    }
  }
}

const rig = (s) => async (backend) => {
  const t = await startThinggate(backend, { protocol: 'mqtt', label: s.label, ...s.opts });
  return { ...t, transport: { kind: 'mqtt', host: '127.0.0.1', port: t.port, clients: CLIENTS, qos: 1, version: 5, window: WINDOW } };
};

console.log(
  `latency: ${RATE}/s offered, ${values.rounds} rounds × ${values.phases} phases of ${values.seconds} s after ${values.warmup} s, set-ups ${subjects.map((s) => s.label).join(', ')}`,
);
for (let r = 1; r <= Number(values.rounds); r++) {
  for (const s of subjects) {
    await withRig(rig(s), async (rg) => {
      pin(rg, s.pinned);
      await phase(rg, { rate: RATE, durationMs: Number(values.warmup) * 1000, drainMs: 1000 });
      for (let i = 0; i < Number(values.phases); i++) {
        const p = await phase(rg, { rate: RATE, durationMs: Number(values.seconds) * 1000, drainMs: 2000 });
        s.phases.push(p);
        console.log(
          `round ${r} ${s.label}: b-e p50/p99 ${p.backendLatencyMs.p50}/${p.backendLatencyMs.p99} ms, ack ${p.ackLatencyMs.p50}/${p.ackLatencyMs.p99} ms, ` +
            `lost ${p.lost}, gateway ${p.targetCpu?.toFixed(2)} cores, load ${loadavg()[0].toFixed(1)}`,
        );
      }
    });
  }
}

/** With `pinned`, the gateway gets CPU 1 to itself; otherwise every process may run on both. */
function pin(rg, pinned) {
  if (!values.pin) return;
  const set = (cpus, pid) => execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
  for (const pid of rg.target.pids()) set(pinned ? '1' : '0,1', pid);
  for (const pid of [rg.backend.pid, rg.generator.pid, process.pid]) set(pinned ? '0' : '0,1', pid);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const col = (s, f) => median(s.phases.map(f));
console.log(`\n| set-up (${RATE}/s) | phases | b-e p50 ms | b-e p99 ms (median; per phase) | ack p50 / p99 ms | gateway cores |`);
console.log('|---|---:|---:|---|---|---:|');
for (const s of subjects) {
  console.log(
    `| ${s.label} | ${s.phases.length} | ${col(s, (p) => p.backendLatencyMs.p50)} | ${col(s, (p) => p.backendLatencyMs.p99)} (${s.phases.map((p) => p.backendLatencyMs.p99).join(', ')}) | ` +
      `${col(s, (p) => p.ackLatencyMs.p50)} / ${col(s, (p) => p.ackLatencyMs.p99)} | ${col(s, (p) => p.targetCpu).toFixed(2)} |`,
  );
}

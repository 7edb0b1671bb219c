#!/usr/bin/env node
/**
 * The floor of handing work to a script thread: one round trip main thread →
 * worker → main thread with nothing done in the worker. `port` is what the
 * script threads use: a MessagePort carrying a batch-sized string each way.
 * `atomics` signals through a SharedArrayBuffer instead (Atomics.wait in the
 * worker, Atomics.waitAsync on the main thread, no data carried): what a
 * different hand-over could save at best. CPU per round trip over all threads
 * and on the main thread (from /proc, Linux), and wall time.
 *
 *   node bench/script-overhead/port-round-trip.mjs [--transport port|atomics] [--trips 20000] [--size 200]
 */
import { Worker } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { cpuSeconds } from '../lib/proc.mjs';

const { values } = parseArgs({
  options: { transport: { type: 'string', default: 'port' }, trips: { type: 'string', default: '20000' }, size: { type: 'string', default: '200' } },
});
const N = Number(values.trips);
const msg = 'x'.repeat(Number(values.size));

const ECHO = "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(m));";
// Slot 0: request, slot 1: answer, slot 2: stop.
const SIGNAL = `
const a = new Int32Array(require('node:worker_threads').workerData);
for (;;) {
  Atomics.wait(a, 0, 0);
  if (Atomics.load(a, 2) === 1) break;
  Atomics.store(a, 0, 0);
  Atomics.store(a, 1, 1);
  Atomics.notify(a, 1);
}`;

const sab = new SharedArrayBuffer(12);
const a = new Int32Array(sab);
const atomics = values.transport === 'atomics';
const w = new Worker(atomics ? SIGNAL : ECHO, { eval: true, workerData: sab });
await new Promise((r) => w.once('online', r));

async function portTrips() {
  let n = 0;
  await new Promise((resolve) => {
    w.on('message', () => (++n === N ? resolve() : w.postMessage(msg)));
    w.postMessage(msg);
  });
}

async function atomicTrips() {
  for (let i = 0; i < N; i++) {
    Atomics.store(a, 1, 0);
    Atomics.store(a, 0, 1);
    Atomics.notify(a, 0);
    const r = Atomics.waitAsync(a, 1, 0);
    if (r.async) await r.value;
  }
  Atomics.store(a, 2, 1);
  Atomics.store(a, 0, 1);
  Atomics.notify(a, 0);
}

const c0 = process.cpuUsage();
const m0 = await cpuSeconds(process.pid, process.pid);
const t0 = process.hrtime.bigint();
await (atomics ? atomicTrips() : portTrips());
const wall = Number(process.hrtime.bigint() - t0) / 1000 / N;
const c = process.cpuUsage(c0);
const main = (((await cpuSeconds(process.pid, process.pid)) - m0) * 1e6) / N;
const what = atomics ? 'Atomics signals' : `MessagePort messages of ${msg.length} characters`;
console.log(
  `${N} round trips, ${what}: wall ${wall.toFixed(1)} µs, CPU ${((c.user + c.system) / N).toFixed(1)} µs over all threads, ${main.toFixed(1)} µs on the main thread (10 ms ticks)`,
);
await w.terminate();

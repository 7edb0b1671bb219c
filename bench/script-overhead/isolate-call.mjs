#!/usr/bin/env -S node --no-node-snapshot
/**
 * The isolate call alone: what a script thread spends per message inside
 * `ScriptVersion.batch` (copy in, the prelude, the script, the results out),
 * in this process, with no thread hand-over and no HTTP. Messages look like
 * the MQTT benchmarks' (200-byte JSON payloads by default).
 *
 *   npm run build && node --no-node-snapshot bench/script-overhead/isolate-call.mjs \
 *     [--dist dist] [--batch 64] [--payload 200] [--script route|address|payload] [--rounds 5]
 *
 * Scripts: `route` returns route('default'); `address` builds a path from
 * msg.address (the script-overhead bench's); `payload` also reads msg.json().
 * CPU includes isolated-vm's and V8's helper threads.
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const { values } = parseArgs({
  options: {
    dist: { type: 'string', default: 'dist' },
    batch: { type: 'string', default: '64' },
    payload: { type: 'string', default: '200' },
    script: { type: 'string', default: 'route' },
    rounds: { type: 'string', default: '5' },
    messages: { type: 'string', default: '160000' },
  },
});
const SCRIPTS = {
  route: "export function onMessage(msg) { return route('default'); }\n",
  address: "export function onMessage(msg) { return route('p', { path: '/messages/' + msg.address }); }\n",
  payload: "export function onMessage(msg) { const v = msg.json(); return v.t > 100 ? drop('hot') : route('default'); }\n",
};
const source = SCRIPTS[values.script] ?? (console.error(`--script: one of ${Object.keys(SCRIPTS).join(', ')}`), process.exit(2));
const dist = pathToFileURL(resolve(values.dist)).href;
const { ScriptVersion } = await import(`${dist}/scripting/version.js`);
const wire = await import(`${dist}/scripting/wire.js`);

const N = Number(values.batch);
const size = Number(values.payload);
const payload = Buffer.from(JSON.stringify({ t: 21.5, h: 40, pad: '' }).replace('""', `"${'x'.repeat(Math.max(0, size - 28))}"`));
// 50 connections, as in mqtt-path: the messages of one share its source object.
const sources = Array.from({ length: 50 }, (_, i) => ({ clientId: `client-${i}`, identity: undefined }));
const envs = Array.from({ length: N }, (_, i) => ({
  id: `m${String(i).padStart(12, '0')}`,
  protocol: 'mqtt',
  listener: 'mqtt',
  source: sources[i % 50],
  address: `devices/dev-${i % 50}/telemetry`,
  method: 'PUBLISH',
  headers: {},
  contentType: 'application/json',
  delivery: 'at-least-once',
  receivedAt: Date.now(),
  payload,
}));
// As the host sends a batch (src/scripting/wire.ts). Builds from before batchWire and payloadsOf
// (2026-12-06) are measured with this bench as it was then (git show <commit>:bench/script-overhead/isolate-call.mjs).
const json = wire.batchWire(envs);
const payloads = wire.payloadsOf(envs);

const v = ScriptVersion.compile(
  'bench',
  resolve('bench.js'),
  source,
  { memoryMb: 64, timeoutMs: 100, maxDecisionBytes: 1048576, maxBatchDecisionBytes: 4194304 },
  { log() {}, state: () => null },
);
const calls = Math.ceil(Number(values.messages) / N);
console.log(`isolate call: script ${values.script}, ${N} messages per call, ${payload.length}-byte payloads, ${calls * N} messages per round`);
const wall = [];
const cpu = [];
for (let r = 0; r < Number(values.rounds); r++) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < calls; k++) {
    // A call may stop after its time slice; the rest go in the next, as in the script thread.
    for (let from = 0; from < N; ) {
      const out = v.batch(json, payloads, Date.now(), from);
      if (out.kind !== 'done') throw new Error(`isolate call: ${out.kind}`);
      from += out.count;
    }
  }
  const c = process.cpuUsage(c0);
  wall.push(Number(process.hrtime.bigint() - t0) / 1000 / (calls * N));
  cpu.push((c.user + c.system) / (calls * N));
  console.log(`round ${r + 1}: ${wall.at(-1).toFixed(2)} µs/msg wall, ${cpu.at(-1).toFixed(2)} µs/msg CPU`);
}
v.dispose();
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`median: ${median(wall).toFixed(2)} µs/msg wall, ${median(cpu).toFixed(2)} µs/msg CPU`);

/**
 * framed-tcp A/B: the gateway's CPU time per acknowledged frame, frames per
 * second and write system calls per frame, for two builds in one invocation
 * (their runs alternate, so the machine's load hits both alike). CPU per
 * message stays meaningful on a busy machine where throughput does not.
 *
 * Closed loop: 50 clients, 10 frames in flight each (the suite's defaults),
 * 64-byte frames as in `framed-tcp-rest`; back-end: node:http answering 204
 * in this process. Loopback only, bounded in time.
 *
 *   node bench/framed/ab.mjs --base DIR [--rounds 3] [--seconds 5]
 *     DIR: a folder inside the repository with another build's dist/ and plugins/
 *     (e.g. node_modules/.cache/tg-before), compared with the working tree's dist/ and plugins/.
 */
import { createServer } from 'node:http';
import { startThinggate } from '../lib/thinggate.mjs';
import { FramedTransport } from '../lib/transports/framed.mjs';
import { encodePayload } from '../lib/payload.mjs';
import { cpuSeconds, syscalls } from '../lib/proc.mjs';
import { mmm } from '../lib/stats.mjs';
import { FRAMED } from '../scenarios/thinggate.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const BASE = arg('base');
if (!BASE) throw new Error('usage: node bench/framed/ab.mjs --base DIR [--rounds 3] [--seconds 5]');
const ROUNDS = Number(arg('rounds', 3));
const SECONDS = Number(arg('seconds', 5));
const CLIENTS = 50;
const WINDOW = 10;

const backend = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(204).end());
});
await new Promise((r) => backend.listen(0, '127.0.0.1', () => r(undefined)));
const url = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (backend.address()).port}`;

/** One measured run of `build` (undefined: the working tree). */
async function run(build) {
  const t = await startThinggate(
    { url },
    {
      protocol: 'framed-tcp',
      routing: 'static',
      plugins: ['framed-tcp'],
      listener: { 'framed-tcp': FRAMED },
      ...(build && { dist: `${build}/dist`, pluginsDir: `${build}/plugins` }),
    },
  );
  const tr = new FramedTransport({ host: '127.0.0.1', port: t.port, clients: CLIENTS, window: WINDOW });
  try {
    await tr.open();
    let acked = 0;
    let stop = false;
    let seq = 0;
    const send = (i) => {
      if (stop) return;
      tr.send(i, encodePayload(1, i, seq++, String(process.hrtime.bigint())), () => {
        acked++;
        send(i);
      });
    };
    for (let i = 0; i < CLIENTS; i++) for (let w = 0; w < WINDOW; w++) send(i);
    await new Promise((r) => setTimeout(r, 1000)); // warm-up
    const [cpu0, io0, n0, t0] = [await cpuSeconds(t.pid), await syscalls(t.pid), acked, performance.now()];
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const [cpu1, io1, n1, t1] = [await cpuSeconds(t.pid), await syscalls(t.pid), acked, performance.now()];
    stop = true;
    const n = n1 - n0;
    return { perSecond: n / ((t1 - t0) / 1000), cpuMicros: ((cpu1 - cpu0) * 1e6) / n, writesPerFrame: (io1.writes - io0.writes) / n };
  } finally {
    await tr.close();
    await t.stop();
  }
}

const builds = { [`base (${BASE})`]: BASE, 'working tree': undefined };
const results = Object.fromEntries(Object.keys(builds).map((k) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const [label, dir] of Object.entries(builds)) {
    const r = await run(dir);
    results[label].push(r);
    console.error(
      `round ${round + 1} ${label}: ${r.perSecond.toFixed(0)} frames/s, ${r.cpuMicros.toFixed(1)} µs CPU/frame, ${r.writesPerFrame.toFixed(2)} writes/frame`,
    );
  }
}
backend.close();
const summary = Object.fromEntries(
  Object.entries(results).map(([k, rs]) => [
    k,
    { perSecond: mmm(rs.map((r) => r.perSecond)), cpuMicros: mmm(rs.map((r) => r.cpuMicros)), writesPerFrame: mmm(rs.map((r) => r.writesPerFrame)) },
  ]),
);
console.log(JSON.stringify({ rounds: ROUNDS, seconds: SECONDS, clients: CLIENTS, window: WINDOW, summary }, null, 2));

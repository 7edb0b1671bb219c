/**
 * abuse: what the guard costs on the clean message path, and what it buys
 * under a flood. One invocation, variants alternating round by round so the
 * machine's load hits each alike; loopback only, bounded in time.
 *
 * cost   mqtt-qos1-rest (MQTT 5, QoS 1, 50 clients × 10 in flight, 200-byte
 *        payloads, script route) with guard.limits on but generous (every
 *        message and byte bucket consulted, none ever reached; guard.exempt
 *        empty so loopback is limited too) against limits off (perSecond 0).
 *        Messages/s and the gateway's CPU µs per message.
 * flood  10 well-behaved MQTT 5 clients at QoS 1, 20 messages/s each, paced,
 *        from 127.0.0.1; alone, then with one client flooding QoS 0 as fast as
 *        its socket takes it from 127.0.0.2 (another address on loopback, in a
 *        process of its own), with limits on (messages per client id 50/s,
 *        burst 100) and off. The
 *        well-behaved clients' acknowledged rate and p99 publish→PUBACK, and
 *        the flooder's messages reaching the back-end per second.
 *
 *   npm run build && node bench/abuse/run.mjs [--rounds 3] [--seconds 5] [--only cost|flood]
 */
import { createServer } from 'node:http';
import { startThinggate } from '../lib/thinggate.mjs';
import { MqttTransport } from '../lib/transports/mqtt.mjs';
import { encodePayload, nowNs } from '../lib/payload.mjs';
import { once } from 'node:events';
import { cpuSeconds, forkNode, stopChild } from '../lib/proc.mjs';
import { mmm } from '../lib/stats.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const ROUNDS = Number(arg('rounds', 3));
const SECONDS = Number(arg('seconds', 5));
const ONLY = arg('only');

const SCOPES = ['clientId', 'principal', 'address', 'prefix'];
/** Every message and byte bucket at `spec` (other resources keep their defaults). */
const buckets = (spec) => Object.fromEntries(['messages', 'bytes'].map((r) => [r, Object.fromEntries(SCOPES.map((s) => [s, spec]))]));
const GENEROUS = { exempt: [], limits: buckets({ perSecond: 1e12, burst: 1e12 }) };
const OFF = { exempt: [], limits: buckets({ perSecond: 0, burst: 1 }) };
/**
 * Flood limits: 50 messages/s per client id (burst 100; a well-behaved client sends 20), the address
 * buckets at their defaults. The /24 bucket is off: on loopback the flooder's 127.0.0.2 shares
 * 127.0.0.0/24 with everyone.
 */
const FLOOD_ON = {
  exempt: [],
  limits: { messages: { clientId: { perSecond: 50, burst: 100 }, prefix: { perSecond: 0 } }, bytes: { prefix: { perSecond: 0 } } },
};
/** Each well-behaved client sends one message every GOOD_INTERVAL_MS. */
const GOOD_INTERVAL_MS = 50;

let flooderAtBackend = 0;
const FLOODER = 999;
const backend = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    if (Buffer.concat(chunks).includes(`"c":${FLOODER},`)) flooderAtBackend++;
    res.writeHead(204).end();
  });
});
await new Promise((r) => backend.listen(0, '127.0.0.1', () => r(undefined)));
const url = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (backend.address()).port}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** mqtt-qos1-rest, closed loop, with `guard`. */
async function cost(guard) {
  const t = await startThinggate({ url }, { protocol: 'mqtt', guard, label: 'abuse-cost' });
  const tr = new MqttTransport({ host: '127.0.0.1', port: t.port, clients: 50, qos: 1, version: 5, window: 10 });
  try {
    await tr.open();
    let acked = 0;
    let refused = 0;
    let stop = false;
    let seq = 0;
    const send = (i) => {
      if (stop) return;
      tr.send(i, encodePayload(1, i, seq++, nowNs()), (ok) => {
        if (ok) acked++;
        else refused++;
        send(i);
      });
    };
    for (let i = 0; i < 50; i++) for (let w = 0; w < 10; w++) send(i);
    await sleep(1000);
    const [cpu0, n0, t0] = [await cpuSeconds(t.pid), acked, performance.now()];
    await sleep(SECONDS * 1000);
    const [cpu1, n1, t1] = [await cpuSeconds(t.pid), acked, performance.now()];
    stop = true;
    const n = n1 - n0;
    return { perSecond: n / ((t1 - t0) / 1000), cpuMicros: ((cpu1 - cpu0) * 1e6) / n, refused };
  } finally {
    await tr.close();
    await t.stop();
  }
}

/** Ten paced QoS 1 clients, and (with `flooder`) one QoS 0 flooder from 127.0.0.2 in its own process, under `guard`. */
async function flood(guard, flooder) {
  const t = await startThinggate({ url }, { protocol: 'mqtt', guard, label: 'abuse-flood' });
  const good = new MqttTransport({ host: '127.0.0.1', port: t.port, clients: 10, qos: 1, version: 5, window: 100, clientPrefix: 'good' });
  const timers = [];
  let bad;
  try {
    await good.open();
    if (flooder) {
      bad = forkNode(new URL('./flooder.mjs', import.meta.url).pathname, [String(t.port), String(FLOODER)], { name: 'flooder' });
      await once(bad, 'message');
    }
    let acked = 0;
    let measuring = false;
    const latencies = [];
    let seq = 0;
    for (let i = 0; i < 10; i++) {
      timers.push(
        setInterval(() => {
          const sent = nowNs();
          good.send(i, encodePayload(2, i, seq++, sent), (ok) => {
            if (!ok || !measuring) return;
            acked++;
            latencies.push((nowNs() - sent) / 1e6);
          });
        }, GOOD_INTERVAL_MS),
      );
    }
    await sleep(1000);
    measuring = true;
    const [f0, t0] = [flooderAtBackend, performance.now()];
    await sleep(SECONDS * 1000);
    measuring = false;
    const seconds = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    return {
      goodPerSecond: acked / seconds,
      goodP99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? null,
      flooderAtBackendPerSecond: (flooderAtBackend - f0) / seconds,
    };
  } finally {
    for (const x of timers) clearInterval(x);
    if (bad) await stopChild(bad);
    await good.close();
    await t.stop();
  }
}

/** @type {Array<[string, () => Promise<Record<string, number | null>>]>} */
const variants = [];
if (ONLY !== 'flood') variants.push(['cost: limits on (generous)', () => cost(GENEROUS)], ['cost: limits off', () => cost(OFF)]);
if (ONLY !== 'cost')
  variants.push(
    ['flood: no flooder, limits on', () => flood(FLOOD_ON, false)],
    ['flood: flooder, limits on', () => flood(FLOOD_ON, true)],
    ['flood: flooder, limits off', () => flood(OFF, true)],
  );
const results = Object.fromEntries(variants.map(([k]) => [k, []]));
for (let round = 0; round < ROUNDS; round++) {
  // Odd rounds run the variants in reverse, so a host that speeds up or slows down during
  // the invocation does not favour whichever variant always comes first (A B, B A, A B …).
  const order = round % 2 === 0 ? variants : [...variants].reverse();
  for (const [label, fn] of order) {
    const r = await fn();
    results[label].push(r);
    console.error(`round ${round + 1} ${label}: ${JSON.stringify(r, (_, v) => (typeof v === 'number' ? Number(v.toFixed(2)) : v))}`);
  }
}
backend.close();
const summary = Object.fromEntries(
  Object.entries(results).map(([k, rs]) => [k, Object.fromEntries(Object.keys(rs[0]).map((f) => [f, mmm(rs.map((r) => r[f]))]))]),
);
const ratio = (a, b, f) => (results[a] && results[b] ? Number((summary[a][f].median / summary[b][f].median).toFixed(3)) : undefined);
console.log(
  JSON.stringify(
    {
      rounds: ROUNDS,
      seconds: SECONDS,
      summary,
      ratios: {
        costThroughputOnOverOff: ratio('cost: limits on (generous)', 'cost: limits off', 'perSecond'),
        costCpuOnOverOff: ratio('cost: limits on (generous)', 'cost: limits off', 'cpuMicros'),
        goodRateWithFlooderOverAlone: ratio('flood: flooder, limits on', 'flood: no flooder, limits on', 'goodPerSecond'),
        goodP99WithFlooderOverAlone: ratio('flood: flooder, limits on', 'flood: no flooder, limits on', 'goodP99Ms'),
        goodRateLimitsOffOverAlone: ratio('flood: flooder, limits off', 'flood: no flooder, limits on', 'goodPerSecond'),
      },
    },
    null,
    2,
  ),
);

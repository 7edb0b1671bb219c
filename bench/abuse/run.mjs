/**
 * abuse: what the guard costs on the clean message path, and what it buys
 * against one abusive client. One invocation, variants alternating round by
 * round so the machine's load hits each alike; loopback only, bounded in time
 * and count, every abuser in a process of its own that stops by itself.
 *
 * cost   mqtt-qos1-rest (MQTT 5, QoS 1, 50 clients × 10 in flight, 200-byte
 *        payloads, script route) with guard.limits on but generous (every
 *        message and byte bucket consulted, none ever reached; guard.exempt
 *        empty so loopback is limited too) against limits off (perSecond 0).
 *        Messages/s and the gateway's CPU µs per message.
 * scenarios (rig.mjs, abusers/*.mjs): 10 well-behaved clients from 127.0.0.1
 *        (MQTT 5 QoS 1 at 20 msg/s each; for coap-flood CoAP CON POSTs at
 *        5/s each), alone and beside one abuser from its own 127.0.0.x:
 *          qos0-flood       QoS 0 as fast as the socket takes it      127.0.0.2
 *          qos1-flood       QoS 1, the whole Receive Maximum in flight 127.0.0.3
 *          reconnect-storm  1,000 CONNECT/DISCONNECT a second          127.0.0.4
 *          malformed-storm  CONNECT then a malformed PUBLISH, 20 at once 127.0.0.5
 *          slow-drip        2,000 connections dripping a PUBLISH       127.0.0.6
 *          coap-flood       CON POSTs as fast as the socket takes them 127.0.0.7
 *        with the guard's defaults on (messages per client id 50/s, burst
 *        100; the /24 buckets off, since on loopback every address shares
 *        127.0.0.0/24) and with every guard detector off. Reported: the
 *        well-behaved clients' acknowledged rate and p99 (publish→PUBACK or
 *        request→2.04), every acknowledged message checked at the back-end,
 *        when the gateway's log first shows the abuser limited and banned,
 *        and what of the abuser reached the back-end.
 *
 *   npm run build && node bench/abuse/run.mjs [--rounds 3] [--seconds 5] [--only cost|flood|<scenario>[,…]]
 */
import { startThinggate } from '../lib/thinggate.mjs';
import { MqttTransport } from '../lib/transports/mqtt.mjs';
import { encodePayload, nowNs } from '../lib/payload.mjs';
import { cpuSeconds } from '../lib/proc.mjs';
import { mmm } from '../lib/stats.mjs';
import { runVariant, sleep, startBackend } from './rig.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const ROUNDS = Number(arg('rounds', 3));
const SECONDS = Number(arg('seconds', 5));
/** `flood` is the QoS 0 flood's old name. */
const ONLY = arg('only')
  ?.split(',')
  .map((x) => (x === 'flood' ? 'qos0-flood' : x));
const selected = (name) => !ONLY || ONLY.includes(name);

const SCOPES = ['clientId', 'principal', 'address', 'prefix'];
/** Every message and byte bucket at `spec` (other resources keep their defaults). */
const buckets = (spec) => Object.fromEntries(['messages', 'bytes'].map((r) => [r, Object.fromEntries(SCOPES.map((s) => [s, spec]))]));
const GENEROUS = { exempt: [], limits: buckets({ perSecond: 1e12, burst: 1e12 }) };
const LIMITS_OFF = { exempt: [], limits: buckets({ perSecond: 0, burst: 1 }) };
/**
 * Guard on: its defaults (connection rate, flapping, scoring, slow peers, overload), with 50
 * messages/s per client id (burst 100; a well-behaved client sends 20). The /24 buckets are off:
 * on loopback every abuser's address shares 127.0.0.0/24 with the well-behaved clients.
 */
const GUARD_ON = {
  exempt: [],
  limits: { messages: { clientId: { perSecond: 50, burst: 100 }, prefix: { perSecond: 0 } }, bytes: { prefix: { perSecond: 0 } } },
};
/** Guard off: no rate limit, no connection rate, no scoring, flapping or slow-peer detection. */
const GUARD_OFF = {
  exempt: [],
  limits: { ...LIMITS_OFF.limits, connectionsPerSecond: 0 },
  scoring: { enabled: false },
  flapping: { enabled: false },
  slowPeers: { enabled: false },
};
/** The CoAP listener's own per-address request rate (default 100/s) goes with the guard. */
const COAP_OFF = { coap: { requestsPerSecond: 0 } };

/**
 * The abuse scenarios: the abuser module, its address, the client-id prefix it connects with (its
 * bans by client id count as its own), and what of it is worth comparing with limits on and off.
 */
/** @type {Array<{ name: string, abuser: string, address: string, clientPrefix?: string, good: 'mqtt' | 'coap' }>} */
const ALL_SCENARIOS = [
  { name: 'qos0-flood', abuser: 'qos0-flood', address: '127.0.0.2', clientPrefix: 'flooder-', good: 'mqtt' },
  { name: 'qos1-flood', abuser: 'qos1-flood', address: '127.0.0.3', clientPrefix: 'qos1-flooder-', good: 'mqtt' },
  { name: 'reconnect-storm', abuser: 'reconnect-storm', address: '127.0.0.4', clientPrefix: 'storm-', good: 'mqtt' },
  { name: 'malformed-storm', abuser: 'malformed-storm', address: '127.0.0.5', good: 'mqtt' },
  { name: 'slow-drip', abuser: 'slow-drip', address: '127.0.0.6', good: 'mqtt' },
  { name: 'coap-flood', abuser: 'coap-flood', address: '127.0.0.7', good: 'coap' },
];
const SCENARIOS = ALL_SCENARIOS.filter((s) => selected(s.name));

const backend = await startBackend();

/** mqtt-qos1-rest, closed loop, with `guard`. */
async function cost(guard) {
  backend.reset(false);
  const t = await startThinggate({ url: backend.url }, { protocol: 'mqtt', guard, label: 'abuse-cost' });
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

/** @type {Array<[string, () => Promise<Record<string, any>>]>} */
const variants = [];
if (selected('cost')) variants.push(['cost: limits on (generous)', () => cost(GENEROUS)], ['cost: limits off', () => cost(LIMITS_OFF)]);
for (const good of /** @type {const} */ (['mqtt', 'coap'])) {
  const mine = SCENARIOS.filter((s) => s.good === good);
  if (mine.length === 0) continue;
  const listener = good === 'coap' ? COAP_OFF : undefined;
  variants.push([`${good}: no abuser, guard on`, () => runVariant({ backend, guard: GUARD_ON, good, seconds: SECONDS })]);
  for (const s of mine) {
    const o = { backend, good, seconds: SECONDS, abuser: s.abuser, address: s.address, clientPrefix: s.clientPrefix };
    variants.push(
      [`${s.name}: guard on`, () => runVariant({ ...o, guard: GUARD_ON })],
      [`${s.name}: guard off`, () => runVariant({ ...o, guard: GUARD_OFF, listener })],
    );
  }
}

/** @type {Record<string, Array<Record<string, any>>>} */
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

const numeric = (rs) => [...new Set(rs.flatMap((r) => Object.keys(r)))].filter((f) => rs.some((r) => typeof r[f] === 'number'));
const summary = Object.fromEntries(Object.entries(results).map(([k, rs]) => [k, Object.fromEntries(numeric(rs).map((f) => [f, mmm(rs.map((r) => r[f]))]))]));
const med = (label, f) => summary[label]?.[f]?.median ?? null;
const ratio = (a, b) => (a !== null && b !== null && b !== 0 ? Number((a / b).toFixed(3)) : null);
const total = (label, f) => (results[label] ?? []).reduce((n, r) => n + (r[f] ?? 0), 0);
const ratios = {
  ...(selected('cost') && {
    costThroughputOnOverOff: ratio(med('cost: limits on (generous)', 'perSecond'), med('cost: limits off', 'perSecond')),
    costCpuOnOverOff: ratio(med('cost: limits on (generous)', 'cpuMicros'), med('cost: limits off', 'cpuMicros')),
  }),
};
/** One row per scenario: the targets (≥ 0.8× rate, ≤ 2× p99, limited within 2 s, nothing acknowledged lost). */
const table = SCENARIOS.map((s) => {
  const base = `${s.good}: no abuser, guard on`;
  const on = `${s.name}: guard on`;
  const off = `${s.name}: guard off`;
  return {
    scenario: s.name,
    goodRateOnOverAlone: ratio(med(on, 'goodPerSecond'), med(base, 'goodPerSecond')),
    goodP99OnOverAlone: ratio(med(on, 'goodP99Ms'), med(base, 'goodP99Ms')),
    goodRateOffOverAlone: ratio(med(off, 'goodPerSecond'), med(base, 'goodPerSecond')),
    goodP99OffOverAlone: ratio(med(off, 'goodP99Ms'), med(base, 'goodP99Ms')),
    goodP99Ms: { alone: med(base, 'goodP99Ms'), on: med(on, 'goodP99Ms'), off: med(off, 'goodP99Ms') },
    limitedMs: summary[on]?.limitedMs ?? null,
    limitedBy: [...new Set(results[on].map((r) => r.limitedBy))],
    bannedMs: summary[on]?.bannedMs ?? null,
    ackedLost: { good: total(on, 'goodLost') + total(off, 'goodLost'), abuser: total(on, 'abuserLost') + total(off, 'abuserLost') },
    ackedChecked: { good: total(on, 'goodAcked') + total(off, 'goodAcked'), abuser: total(on, 'abuserAcked') + total(off, 'abuserAcked') },
    abuserAtBackendPerSecond: { on: med(on, 'abuserAtBackendPerSecond'), off: med(off, 'abuserAtBackendPerSecond') },
    abuser: { on: results[on].map((r) => r.abuser), off: results[off].map((r) => r.abuser) },
  };
});
console.log(JSON.stringify({ rounds: ROUNDS, seconds: SECONDS, summary, ratios, scenarios: table }, null, 2));

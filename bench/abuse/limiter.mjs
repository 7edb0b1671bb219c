/**
 * CPU cost of the guard's rate limits per message, from the built dist/: the
 * Limiter's check of one message (messages and bytes buckets for the client
 * id, address and /24 of 50 clients), refusing (`admitMessage`: MQTT 5,
 * CoAP, HTTP) and charging (`chargeMessage`: MQTT 3.1.1, AMQP), with limits
 * generous (every bucket consulted, none reached) and off. CPU time
 * (process.cpuUsage), so a busy machine slows the run without skewing the
 * figures much.
 *
 *   npm run build && node bench/abuse/limiter.mjs
 */
import { Limiter } from '../../dist/guard/limiter.js';
import { embeddedRateCounters } from '../../dist/guard/rate-counter.js';
import { parseConfig } from '../../dist/config/load.js';

const SCOPES = ['clientId', 'principal', 'address', 'prefix'];
const buckets = (spec) => Object.fromEntries(['messages', 'bytes'].map((r) => [r, Object.fromEntries(SCOPES.map((s) => [s, spec]))]));
const configOf = (limits) =>
  parseConfig({
    listeners: [{ name: 'mqtt', protocol: 'mqtt', host: '127.0.0.1', port: 0 }],
    pools: [{ name: 'p', endpoints: [{ url: 'http://127.0.0.1:1' }] }],
    routes: [{ match: { address: '#' }, pool: 'p' }],
    guard: { exempt: [], limits },
  }).guard.limits;

function limiter(limits) {
  const config = configOf(limits);
  return new Limiter({
    listener: 'mqtt',
    config: () => config,
    counters: embeddedRateCounters(Date.now),
    exempt: () => false,
    overloadPauseMs: () => 0,
    onThrottle: () => {
      throw new Error('a limit was reached: the figures would not be the clean path');
    },
  });
}

function cpuMicros(fn, n) {
  const t0 = process.cpuUsage();
  fn(n);
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / n;
}

const out = {};
for (const [label, limits] of [
  ['generous', buckets({ perSecond: 1e12, burst: 1e12 })],
  ['off', buckets({ perSecond: 0, burst: 1 })],
]) {
  const l = limiter(limits);
  const keys = Array.from({ length: 50 }, (_, i) => l.keys(`10.0.${i}.7`, `bench-${i}`));
  const N = 2_000_000;
  // Warm-up, then measured.
  cpuMicros((n) => {
    for (let i = 0; i < n; i++) l.admitMessage(keys[i % 50], 200);
  }, N / 4);
  out[`admitMessage_${label}_micros`] = cpuMicros((n) => {
    for (let i = 0; i < n; i++) l.admitMessage(keys[i % 50], 200);
  }, N);
  out[`chargeMessage_${label}_micros`] = cpuMicros((n) => {
    for (let i = 0; i < n; i++) l.chargeMessage(keys[i % 50], 200);
  }, N);
}
for (const [k, v] of Object.entries(out)) out[k] = Number(v.toFixed(3));
console.log(JSON.stringify(out));

#!/usr/bin/env node
/**
 * The cost of writing persistent sessions through while their devices are
 * connected, on the message path toward devices: MQTT QoS 1 to connected
 * devices with persistent sessions (MQTT 5 Clean Start 0, Session Expiry
 * Interval 3600 s) through the durable embedded session store.
 *
 *   npm run build && node bench/sessions/to-device.mjs [--devices 200] [--messages 20000]
 *                                                      [--window 48] [--rounds 3] [--base DIR]
 *
 * --devices devices (MQTT.js v5) subscribe to `devices/<id>/#` at QoS 1 and
 * acknowledge what they get; one publisher sends --messages QoS 1 messages
 * round-robin to them (`target: devices`), at most --window unacknowledged.
 * Reports messages/s received by the devices. Variants, in alternating
 * rounds (a fresh gateway and state directory each run), so the machine's
 * load hits them alike:
 *   - `persistent`: this build, persistent sessions (written through);
 *   - `clean`: this build, Clean Start 1 sessions (nothing written);
 *   - `base-persistent`: with --base DIR (another build: a folder with dist/
 *     and node_modules/), that build with persistent sessions.
 * The medians per variant, their ratios and the load average close the
 * output. Writes nothing: quote it in bench/RESULTS.md (sessions).
 * --window stays below the gateway's Receive Maximum (limits.maxInflight,
 * 64 by default): MQTT.js does not hold back at it, and the gateway closes
 * a publisher that exceeds it. ONLY=<variant> runs one variant;
 * DEBUG_BENCH=1 prints progress.
 */
import { loadavg } from 'node:os';
import mqtt from 'mqtt';
import { alternate, buildCli, parseBuildArgs, startGateway } from '../lib/thinggate.mjs';

const {
  values,
  rounds: ROUNDS,
  base: BASE_CLI,
} = parseBuildArgs(
  {
    devices: { type: 'string', default: '200' },
    messages: { type: 'string', default: '20000' },
    window: { type: 'string', default: '48' },
  },
  { rounds: '3' },
);
const DEVICES = Number(values.devices);
const MESSAGES = Number(values.messages);
const WINDOW = Number(values.window);
const CLI = buildCli();

async function measure(cli, persistent) {
  if (process.env.DEBUG_BENCH) console.log('measure', cli, persistent);
  const gw = await startGateway(
    {
      routes: [{ match: { address: 'devices/#' }, target: 'devices' }],
      guard: { stateDir: 'state', flapping: { enabled: false }, limits: { connectionsPerSecond: 0, action: 'log' } },
    },
    { cli, label: `to-device-${persistent ? 'persistent' : 'clean'}` },
  );
  try {
    let received = 0;
    let done;
    const all = new Promise((r) => (done = r));
    const devices = [];
    for (let i = 0; i < DEVICES; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(50, DEVICES - i) }, async (_, k) => {
          const id = `dev-${i + k}`;
          const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, {
            clientId: id,
            protocolVersion: 5,
            clean: !persistent,
            properties: persistent ? { sessionExpiryInterval: 3600 } : {},
            reconnectPeriod: 0,
          });
          c.on('message', () => {
            if (++received === MESSAGES) done();
          });
          await c.subscribeAsync(`devices/${id}/#`, { qos: 1 });
          return c;
        }),
      );
      devices.push(...batch);
    }
    if (process.env.DEBUG_BENCH) console.log('devices up', received);
    const publisher = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { clientId: 'publisher', protocolVersion: 5, reconnectPeriod: 0 });
    const payload = Buffer.alloc(64, 'x');
    let next = 0;
    const t0 = performance.now();
    const progress = process.env.DEBUG_BENCH ? setInterval(() => console.log('sent', next, 'received', received), 5000) : undefined;
    await Promise.all(
      Array.from({ length: WINDOW }, async () => {
        while (next < MESSAGES) {
          const n = next++;
          await publisher.publishAsync(`devices/dev-${n % DEVICES}/cmd`, payload, { qos: 1 });
        }
      }),
    );
    const timer = setTimeout(done, 120_000);
    await all;
    clearTimeout(timer);
    clearInterval(progress);
    if (received < MESSAGES) throw new Error(`${MESSAGES - received} of ${MESSAGES} messages not received in time`);
    const rate = MESSAGES / ((performance.now() - t0) / 1000);
    await Promise.all([publisher, ...devices].map((c) => c.endAsync(true)));
    return rate;
  } finally {
    await gw.stop();
  }
}

const variants = [['persistent', CLI, true], ['clean', CLI, false], ...(BASE_CLI ? [['base-persistent', BASE_CLI, true]] : [])];
if (process.env.ONLY) variants.splice(0, variants.length, ...variants.filter(([n]) => n === process.env.ONLY));
const figures = new Map(variants.map(([name]) => [name, []]));
const loads = [];
await alternate(ROUNDS, variants, async ([name, cli, persistent], round) => {
  const rate = await measure(cli, persistent);
  figures.get(name).push(rate);
  loads.push(loadavg()[0]);
  console.log(`round ${round + 1} ${name}: ${rate.toFixed(0)} msg/s (load ${loadavg()[0].toFixed(2)})`);
});
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`\nmedians of ${ROUNDS} round(s), ${DEVICES} devices, ${MESSAGES} QoS 1 messages, window ${WINDOW}`);
const m = Object.fromEntries([...figures].map(([k, v]) => [k, median(v)]));
for (const [k, v] of Object.entries(m)) console.log(`${k}: ${v.toFixed(0)} msg/s`);
console.log(`persistent/clean: ${(m.persistent / m.clean).toFixed(2)}`);
if (m['base-persistent']) console.log(`persistent/base-persistent: ${(m.persistent / m['base-persistent']).toFixed(2)}`);
console.log(`load average 1 min: ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`);

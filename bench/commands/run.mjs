#!/usr/bin/env node
/**
 * Southbound commands: the REST API to connected MQTT devices, and the drain
 * of offline mailboxes by a reconnect storm.
 *
 *   npm run build && node bench/commands/run.mjs [--devices 1000] [--commands 10000] [--concurrency 64]
 *                                                [--offline 1000] [--per-device 10]
 *                                                [--base DIR --rounds 3]
 *
 * 1. Online: --devices MQTT 5 devices (MQTT.js) connected and subscribed to
 *    their command topic; each answers every command on its Response Topic
 *    with the Correlation Data. --commands `sync` commands are POSTed,
 *    --concurrency at a time, round-robin over the devices. Reports
 *    commands/s, REST→device (POST sent → device has it) and REST→response
 *    (the POST's round trip, which ends with the device's answer) p50/p99.
 * 2. Offline: --per-device notifications queued for each of --offline devices
 *    that are not connected; the gateway's RSS before and after gives the
 *    memory per queued message. Then every device connects and subscribes at
 *    once; reports the drain rate and checks that nothing is lost and each
 *    device got its commands in order.
 *
 * The gateway is dist/cli.js in a child process on 127.0.0.1, killed by PID
 * at the end. With --base DIR (another build: a folder with dist/ and
 * node_modules/), that build and the working tree's run in alternating
 * rounds (--rounds each, a fresh gateway and mailbox every run), so the
 * machine's load hits both alike; the medians per build and their ratio
 * close the output. Writes nothing: quote the output in bench/RESULTS.md
 * (commands).
 */
import mqtt from 'mqtt';
import { rssBytes } from '../lib/proc.mjs';
import { alternate, parseBuildArgs, startGateway } from '../lib/thinggate.mjs';

const {
  values,
  rounds: ROUNDS,
  builds,
} = parseBuildArgs({
  devices: { type: 'string', default: '1000' },
  commands: { type: 'string', default: '10000' },
  concurrency: { type: 'string', default: '64' },
  offline: { type: 'string', default: '1000' },
  'per-device': { type: 'string', default: '10' },
});
const DEVICES = Number(values.devices);
const COMMANDS = Number(values.commands);
const CONCURRENCY = Number(values.concurrency);
const OFFLINE = Number(values.offline);
const PER_DEVICE = Number(values['per-device']);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => `${x.toFixed(1)} ms`;
const rssKb = async (pid) => (await rssBytes(pid)) / 1024;

/** The gateway of `cli` with a fresh mailbox; the MQTT listener and the admin API on free ports. */
async function startCommandsGateway(cli, label) {
  const gw = await startGateway(
    {
      admin: { host: '127.0.0.1', port: 0 },
      guard: { stateDir: 'guard', flapping: { enabled: false }, limits: { connectionsPerSecond: 0 } },
      commands: {
        directory: 'mailbox',
        unseenDevices: ['*'],
        limits: { maxMessagesPerDevice: Math.max(100, PER_DEVICE), maxMessagesTotal: 10_000_000 },
        maxTimeoutMs: 600000,
      },
    },
    { cli, label: `commands-${label}` },
  );
  return { ...gw, mqttPort: gw.ports.mqtt };
}

async function connectAll(port, ids, onMessage) {
  const clients = [];
  for (let i = 0; i < ids.length; i += 100) {
    const batch = await Promise.all(
      ids.slice(i, i + 100).map(async (id) => {
        const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: id, protocolVersion: 5, reconnectPeriod: 0 });
        c.on('message', (topic, payload, packet) => onMessage(c, id, topic, payload, packet));
        await c.subscribeAsync(`commands/${id}/req/#`, { qos: 1 });
        return c;
      }),
    );
    clients.push(...batch);
  }
  return clients;
}

/** @returns {Promise<{ state: string }>} */
async function post(admin, clientId, body) {
  const res = await fetch(`${admin}/api/v1/devices/${clientId}/commands`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = /** @type {{ state: string }} */ (await res.json());
  if (res.status >= 300) throw new Error(`POST ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

async function online(gw) {
  const ids = Array.from({ length: DEVICES }, (_, i) => `on-${i}`);
  const toDevice = [];
  const clients = await connectAll(gw.mqttPort, ids, (c, _id, _topic, payload, packet) => {
    toDevice.push(performance.now() - JSON.parse(payload.toString()).t);
    c.publish(packet.properties.responseTopic, 'ok', { qos: 1, properties: { correlationData: packet.properties.correlationData } });
  });
  const toResponse = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < COMMANDS) {
        const n = next++;
        const t = performance.now();
        const r = await post(gw.admin, ids[n % DEVICES], { payload: { t, n }, response: 'sync', timeoutMs: 60000 });
        if (r.state !== 'responded') throw new Error(`command ${n}: ${r.state}`);
        toResponse.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(clients.map((c) => c.endAsync()));
  console.log(`online: ${COMMANDS} sync commands to ${DEVICES} MQTT 5 devices, ${CONCURRENCY} at a time`);
  console.log(`  ${(COMMANDS / seconds).toFixed(0)} commands/s (each answered by its device)`);
  console.log(`  REST→device   p50 ${ms(pct(toDevice, 50))}  p99 ${ms(pct(toDevice, 99))}`);
  console.log(`  REST→response p50 ${ms(pct(toResponse, 50))}  p99 ${ms(pct(toResponse, 99))}`);
  return {
    'commands/s': COMMANDS / seconds,
    'REST→device p50 ms': pct(toDevice, 50),
    'REST→device p99 ms': pct(toDevice, 99),
    'REST→response p50 ms': pct(toResponse, 50),
    'REST→response p99 ms': pct(toResponse, 99),
  };
}

async function offline(gw) {
  const ids = Array.from({ length: OFFLINE }, (_, i) => `off-${i}`);
  const total = OFFLINE * PER_DEVICE;
  const before = await rssKb(gw.pid);
  const tq = performance.now();
  // Each worker owns a share of the devices and queues each device's commands in sequence (the API orders what it acknowledged).
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let seq = 0; seq < PER_DEVICE; seq++) {
        for (let d = w; d < OFFLINE; d += CONCURRENCY) await post(gw.admin, ids[d], { payload: { seq }, ttlMs: 3600000 });
      }
    }),
  );
  const queueRate = total / ((performance.now() - tq) / 1000);
  await new Promise((r) => setTimeout(r, 2000));
  const after = await rssKb(gw.pid);
  const got = new Map(ids.map((id) => [id, []]));
  let received = 0;
  let done;
  const all = new Promise((r) => (done = r));
  const t0 = performance.now();
  const clients = await connectAll(gw.mqttPort, ids, (_c, id, _topic, payload) => {
    got.get(id).push(JSON.parse(payload.toString()).seq);
    if (++received === total) done();
  });
  // Bounded: two minutes, or 5 ms per queued message when that is longer; what did not arrive by then counts as lost.
  let timer;
  await Promise.race([all, new Promise((r) => (timer = setTimeout(r, Math.max(120_000, total * 5))))]);
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const inOrder = [...got.values()].every((seqs) => seqs.every((s, i) => s === i));
  await Promise.all(clients.map((c) => c.endAsync()));
  console.log(`offline: ${total} notifications queued for ${OFFLINE} offline devices (${PER_DEVICE} each), ${queueRate.toFixed(0)}/s`);
  console.log(
    `  gateway RSS ${(before / 1024).toFixed(0)} → ${(after / 1024).toFixed(0)} MiB: ${(((after - before) * 1024) / total).toFixed(0)} bytes per queued message`,
  );
  console.log(
    `  reconnect storm: ${received}/${total} delivered in ${seconds.toFixed(1)} s (connect + subscribe + drain): ${(received / seconds).toFixed(0)}/s; lost ${total - received}; per-device order ${inOrder ? 'kept' : 'BROKEN'}`,
  );
  return { 'queued/s': queueRate, 'drain/s': received / seconds, lost: total - received };
}

/** One run: a fresh gateway of `cli` on a fresh mailbox. */
async function run(label, cli) {
  const gw = await startCommandsGateway(cli, label);
  try {
    console.log(`--- ${label}`);
    return { ...(await online(gw)), ...(await offline(gw)) };
  } finally {
    await gw.stop();
  }
}

const figures = new Map(builds.map(([label]) => [label, []]));
await alternate(ROUNDS, builds, async ([label, cli]) => {
  figures.get(label).push(await run(label, cli));
});
if (ROUNDS > 1 || builds.length > 1) {
  const median = (xs) => pct(xs, 50);
  const keys = Object.keys(figures.get('this')[0]);
  console.log(`\nmedians of ${ROUNDS} round(s)`);
  console.log(['measure', ...builds.map(([l]) => l), ...(builds.length > 1 ? ['this/base'] : [])].join(' | '));
  for (const k of keys) {
    const m = builds.map(([l]) => median(figures.get(l).map((f) => f[k])));
    console.log([k, ...m.map((x) => x.toFixed(1)), ...(m.length > 1 ? [m[0] === 0 ? '–' : `${(m[1] / m[0]).toFixed(2)}×`] : [])].join(' | '));
  }
}

/**
 * The rig of the abuse scenarios (bench/abuse/run.mjs): a back-end that
 * records which messages arrived, the well-behaved clients (MQTT 5 QoS 1 or
 * CoAP CON, paced), an abuser in a process of its own (abusers/*.mjs), and
 * the times at which the gateway's log shows it limited and banned (by its
 * address, or by the client ids it uses: `clientPrefix`).
 *
 * Loopback only: the gateway listens on 127.0.0.1, the well-behaved clients
 * come from 127.0.0.1, each abuser from its own 127.0.0.x.
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import { createSocket } from 'node:dgram';
import { startThinggate } from '../lib/thinggate.mjs';
import { MqttTransport } from '../lib/transports/mqtt.mjs';
import { RawCoapTransport } from '../lib/transports/coap-raw.mjs';
import { encodePayload, forEachMessage, nowNs } from '../lib/payload.mjs';
import { ask, forkNode, stopChild } from '../lib/proc.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const GOOD_CLIENTS = 10;
/** Each well-behaved MQTT client sends a message every 50 ms (20/s); a CoAP one every 200 ms (5/s), under the CoAP listener's default 100 requests/s per address for all ten. */
const GOOD_INTERVAL_MS = { mqtt: 50, coap: 200 };
/** The abusers' client indexes in the payload, apart from the well-behaved clients' 0–9. */
export const ABUSER_INDEX = 999;

/** The back-end: 204 to everything, and which (client, seq) arrived since the last `reset`. */
export async function startBackend() {
  /** @type {Map<number, Set<number>>} */
  let seen = new Map();
  let recording = false;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (recording)
        forEachMessage(Buffer.concat(chunks), (_phase, c, s) => {
          let set = seen.get(c);
          if (!set) seen.set(c, (set = new Set()));
          set.add(s);
        });
      res.writeHead(204).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (server.address()).port}`,
    /** Forgets what arrived; `record` false (the cost variants) only answers, sparing the harness's CPU. */
    reset: (record = true) => {
      seen = new Map();
      recording = record;
    },
    has: (c, s) => seen.get(c)?.has(s) ?? false,
    count: (c) => seen.get(c)?.size ?? 0,
    close: () => server.close(),
  };
}

/**
 * One variant: the gateway under `guard`, ten well-behaved clients of `good`
 * ('mqtt' or 'coap'), and `abuser` (a module under abusers/, from `address`)
 * or none. Measures `seconds` after a 1-s warm-up.
 * @param {{ backend: Awaited<ReturnType<typeof startBackend>>, guard: object, listener?: object, good: 'mqtt'|'coap',
 *           abuser?: string, address?: string, clientPrefix?: string, seconds: number }} o
 */
export async function runVariant(o) {
  o.backend.reset();
  const t = await startThinggate({ url: o.backend.url }, { protocol: o.good, guard: o.guard, listener: o.listener, label: `abuse-${o.abuser ?? 'none'}` });
  const good =
    o.good === 'mqtt'
      ? new MqttTransport({ host: '127.0.0.1', port: t.port, clients: GOOD_CLIENTS, qos: 1, version: 5, window: 100, clientPrefix: 'good' })
      : new RawCoapTransport({ host: '127.0.0.1', port: t.port, clients: GOOD_CLIENTS, window: 100 });
  const timers = [];
  /** @type {import('../lib/proc.mjs').BenchChild | undefined} */
  let bad;
  let abuserStart;
  try {
    if (o.good === 'coap') await coapAnswers(t.port);
    await good.open();
    if (o.abuser) {
      const args = { port: t.port, address: o.address, seconds: o.seconds + 2, index: ABUSER_INDEX };
      bad = forkNode(new URL(`./abusers/${o.abuser}.mjs`, import.meta.url).pathname, [JSON.stringify(args)], { name: o.abuser });
      const [m] = await once(bad, 'message');
      abuserStart = m.at;
    }
    let acked = 0;
    let measuring = false;
    const latencies = [];
    /** @type {Array<[number, number]>} every acknowledged (client, seq), measured or not */
    const ackedIds = [];
    let seq = 0;
    for (let i = 0; i < GOOD_CLIENTS; i++) {
      timers.push(
        setInterval(() => {
          const sent = nowNs();
          const s = seq++;
          good.send(i, encodePayload(2, i, s, sent), (ok) => {
            if (!ok) return;
            ackedIds.push([i, s]);
            if (!measuring) return;
            acked++;
            latencies.push((nowNs() - sent) / 1e6);
          });
        }, GOOD_INTERVAL_MS[o.good]),
      );
    }
    await sleep(1000);
    measuring = true;
    const [a0, t0] = [o.backend.count(ABUSER_INDEX), performance.now()];
    await sleep(o.seconds * 1000);
    measuring = false;
    const seconds = (performance.now() - t0) / 1000;
    const abuserAtBackend = (o.backend.count(ABUSER_INDEX) - a0) / seconds;
    for (const x of timers) clearInterval(x);
    const report = bad ? await ask(bad, { cmd: 'report' }) : undefined;
    latencies.sort((a, b) => a - b);
    const times = o.address ? guardTimes(t.log(), o.address, abuserStart, o.clientPrefix) : {};
    const abuserLost = report?.ackedSeqs ? report.ackedSeqs.filter((s) => !o.backend.has(ABUSER_INDEX, s)).length : undefined;
    return {
      goodPerSecond: acked / seconds,
      goodP99Ms: latencies[Math.floor(latencies.length * 0.99)] ?? null,
      goodAcked: ackedIds.length,
      goodLost: ackedIds.filter(([c, s]) => !o.backend.has(c, s)).length,
      ...(bad && {
        abuserAtBackendPerSecond: abuserAtBackend,
        abuserAcked: report.ackedSeqs?.length,
        abuserLost,
        ...times,
        abuser: summarise(report, seconds),
      }),
    };
  } finally {
    for (const x of timers) clearInterval(x);
    if (bad) await stopChild(bad);
    await good.close();
    await t.stop();
  }
}

/**
 * Waits until the CoAP listener answers a request: a UDP port cannot be polled for a listener, and a
 * gateway starting its script threads on a loaded host may take longer than startThinggate's wait.
 */
async function coapAnswers(port) {
  const sock = createSocket('udp4');
  await new Promise((r) => sock.bind(0, '127.0.0.1', () => r(undefined)));
  try {
    const answered = once(sock, 'message');
    const ping = Buffer.from([0x40, 0x00, 0x12, 0x34]); // CON empty message: a CoAP ping, answered RST (RFC 7252 §4.3)
    for (let k = 0; k < 600; k++) {
      sock.send(ping, port, '127.0.0.1');
      const r = await Promise.race([answered, sleep(100)]);
      if (r) return;
    }
    throw new Error('the CoAP listener did not answer within 60 s');
  } finally {
    sock.close();
  }
}

/** The abuser's own counters, without the long lists. */
function summarise(report, seconds) {
  const { ackedSeqs, seq, startedAt, stopped, ...rest } = report;
  return { ...rest, seconds: Number(seconds.toFixed(1)) };
}

/** Security event kinds that mean the gateway is holding the abuser back (not merely noticing it). */
const LIMITING = new Set(['rate-limited', 'flood', 'slow-client', 'banned']);

/**
 * From the gateway's log (pino JSON lines, ISO times): ms from the abuser's
 * start to the first event that limited it (a limit reached, a connection
 * refused at accept or closed as slow, a refusal by a ban) and to its first ban.
 */
export function guardTimes(log, address, startedAt, clientPrefix) {
  let limited;
  let banned;
  let firstEvent;
  const named = (id) => clientPrefix !== undefined && typeof id === 'string' && id.startsWith(clientPrefix);
  for (const line of log.split('\n')) {
    if (!line.includes(address) && !(clientPrefix && line.includes(clientPrefix))) continue;
    let e;
    try {
      e = JSON.parse(line);
    } catch {
      continue;
    }
    const at = Date.parse(e.time);
    const mine = e.remoteAddress === address || e.ban?.value === address || named(e.clientId) || named(e.ban?.value);
    if (!mine) continue;
    if (e.event === 'security') {
      firstEvent ??= { at, kind: e.kind };
      if (LIMITING.has(e.kind)) limited ??= { at, kind: e.kind };
    }
    if (e.event === 'ban') banned ??= { at, by: e.ban.source };
  }
  const ms = (x) => (x ? x.at - startedAt : null);
  if (banned && (!limited || banned.at < limited.at)) limited = { at: banned.at, kind: 'ban' };
  return {
    firstEventMs: ms(firstEvent),
    firstEventKind: firstEvent?.kind ?? null,
    limitedMs: ms(limited),
    limitedBy: limited?.kind ?? null,
    bannedMs: ms(banned),
  };
}

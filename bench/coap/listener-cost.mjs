/**
 * The CoAP listener's own cost per CON request, without sockets or a back-end:
 * datagrams are handed straight to the listener's datagram handler and the
 * pipeline answers at once. Measures parsing, deduplication, the envelope
 * and the response's serialisation — what thinggate adds on top of I/O.
 *
 * Run from the repository (it imports the build named by THINGGATE_BENCH_DIST,
 * default dist/). Prints µs per request; with an IPC channel, sends { usPerRequest }.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIST = process.env.THINGGATE_BENCH_DIST ? resolve(ROOT, process.env.THINGGATE_BENCH_DIST) : join(ROOT, 'dist');
const load = (p) => import(pathToFileURL(join(DIST, p)).href);

const { CoapListener } = await load('listeners/coap/listener.js');
const { onDatagram } = await load('listeners/coap/handle-datagram.js');
const { DeviceRegistry } = await load('devices/registry.js');
const { Metrics } = await load('observability/metrics.js');
const { Guard } = await load('guard/guard.js');
const { silentLogger } = await load('observability/logger.js');

const logger = silentLogger();
const metrics = new Metrics();
const accepted = { kind: 'accepted', status: 200 };
const pipeline = { handle: () => Promise.resolve(accepted), admit: () => Promise.resolve({ ok: true }) };
const config = {
  name: 'coap',
  protocol: 'coap',
  host: '127.0.0.1',
  port: 0,
  limits: { maxPacketBytes: 262144, maxConnections: 100000, maxInflight: 1e9, connectTimeoutMs: 10000 },
  coap: { requestsPerSecond: 0 },
};
const listener = new CoapListener({ config, pipeline, devices: new DeviceRegistry(), logger, metrics, guard: new Guard(logger, metrics) });
const core = listener.core; // not started: responses are built but not sent

// CON POST /telemetry/bench-0, token 4 bytes, Content-Format 42, 64-byte payload.
const tpl = Buffer.concat([
  Buffer.from([0x44, 0x02, 0, 0, 1, 2, 3, 4, 0xb9]),
  Buffer.from('telemetry'),
  Buffer.from([7]),
  Buffer.from('bench-0'),
  Buffer.from([0x11, 42, 0xff]),
  Buffer.alloc(64, 0x61),
]);
const rinfo = { address: '127.0.0.1', port: 40000, family: 'IPv4', size: tpl.length };
let mid = 0;

async function run(n) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const b = Buffer.from(tpl);
    mid = (mid + 1) & 0xffff;
    b.writeUInt16BE(mid, 2);
    rinfo.port = 40000 + (i % 8); // 8 sources, so message ids do not repeat within a source's window
    onDatagram(core, b, rinfo);
    if ((i & 1023) === 1023) await new Promise((r) => setImmediate(r)); // let the pipeline's promises settle
  }
  await new Promise((r) => setImmediate(r));
  return ((performance.now() - t0) / n) * 1000;
}

await run(50_000); // warm-up
const usPerRequest = await run(300_000);
console.log(`CoAP listener cost: ${usPerRequest.toFixed(2)} µs per CON request (no sockets, pipeline answering at once)`);
if (process.send) process.send({ usPerRequest }, () => process.exit(0));
